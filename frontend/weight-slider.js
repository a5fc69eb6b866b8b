// One attribute's blend weight: a labelled range slider over the API's weight limits, its value,
// and marks at 0 (the base) and 1 (the donor, or the value the slot holds instead).

import { el, uid } from "./dom.js";

export const WEIGHT_STEP = 0.05;

/**
 * mount(row, {attr, limits: {min, max}, onInput, onRelease}) -> {update({weight, enabled, target})}.
 * Builds the label, slider and output inside `row`; `onInput(weight, dragging)` on every move (dragging: a
 * pointer holds the thumb, so more moves follow); `onRelease()` when that pointer lets go. `target` names what 1
 * takes: "donor" (the default) or "value".
 */
export function mount(root, { attr, limits, onInput, onRelease = () => {} }) {
  const state = { weight: 1, enabled: false, target: "donor", dragging: false };
  const id = uid(`weight-${attr}`);
  const ticks = uid("weight-ticks");
  const at = (v) => `left: ${(100 * (v - limits.min)) / (limits.max - limits.min)}%`;

  const slider = el("input", {
    type: "range",
    id,
    min: String(limits.min),
    max: String(limits.max),
    step: String(WEIGHT_STEP),
    list: ticks,
    dataset: { testid: `weight-${attr}` },
    oninput: (ev) => onInput(Number(ev.target.value), state.dragging),
    onpointerdown: (ev) => {
      if (ev.button !== 0 || slider.disabled) return;
      state.dragging = true;
      window.addEventListener("pointerup", release);
      window.addEventListener("pointercancel", release);
    },
  });
  function release() {
    window.removeEventListener("pointerup", release);
    window.removeEventListener("pointercancel", release);
    if (!state.dragging) return;
    state.dragging = false;
    onRelease();
  }
  const output = el("output", { for: id, dataset: { testid: `weight-value-${attr}` } });
  const targetMark = el("span", { class: "mark-donor", style: at(1) });
  root.replaceChildren(
    el("label", { for: id }, `${attr} weight`),
    slider,
    output,
    el("datalist", { id: ticks }, el("option", { value: "0" }), el("option", { value: "1" })),
    el(
      "div",
      { class: "weight-scale", "aria-hidden": "true" },
      el("span", { class: "mark-base", style: at(0) }, "base 0"),
      targetMark,
    ),
  );

  // Without a donor there is no blend: the slider is off and shows no weight (the one it keeps for the next
  // donor would read as if it applied), only that the base's value is used.
  function paint() {
    slider.value = String(state.weight);
    slider.disabled = !state.enabled;
    root.classList.toggle("no-donor", !state.enabled);
    output.textContent = state.enabled ? state.weight.toFixed(2) : "—";
    targetMark.textContent = `1 ${state.target}`;
    output.title = state.enabled ? "" : "no donor: the base's value is used";
    slider.setAttribute(
      "aria-valuetext",
      state.enabled ? `${state.weight.toFixed(2)} (0 is the base, 1 the ${state.target})` : "no donor: the base's value",
    );
  }

  paint();
  return {
    update(next) {
      Object.assign(state, next);
      paint();
    },
  };
}
