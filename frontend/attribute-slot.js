// One attribute's slot: its donor (dropped card or <select> picker) or, on a model with value prototypes, a value
// of the attribute named instead of a donor (empty = keep the base), and its blend weight.

import { el, uid } from "./dom.js";
import { dropTarget } from "./drop-target.js";
import { imageLabel, imageOptions } from "./labels.js";
import { mount as mountValuePicker } from "./value-picker.js";
import { mount as mountWeightSlider } from "./weight-slider.js";

/**
 * mount(slot, {attr, meta, limits, values, store, urls, onChange, onHover, uploadFile, accept}) ->
 * {setDonor(id), setValue(name), update(), destroy()}.
 * Builds the slot inside `slot`; `values`: the attribute's value names the slot offers instead of a donor (null: no
 * value picker). The slot holds a donor or a value, never both: either replaces the other. `onChange({donor, value,
 * weight}, mode)` on every edit, mode "preview" while the weight is dragged, "final" when it is let go or a card is
 * dropped, else undefined; `onHover({donor, value, weight})` while a card is dragged over the slot, `onHover(null)`
 * when it leaves; `update()` repaints after the image list changed; `uploadFile(files)` resolves to the id of a
 * dropped file; `accept(id)` says whether an image dropped or picked may be the donor (one of another model may not:
 * it explains why and says no).
 */
export function mount(root, { attr, meta, limits, values = null, store, urls, onChange, onHover = () => {}, uploadFile, accept = () => true }) {
  const state = { donor: null, value: null, weight: 1 };
  const pickerId = uid(`picker-${attr}`);
  const held = () => Boolean(state.donor || state.value);

  const thumb = el("div", { class: "slot-thumb", dataset: { testid: `slot-thumb-${attr}` } });
  const picker = el("select", {
    id: pickerId,
    dataset: { testid: `picker-${attr}` },
    onchange: (ev) => offer(ev.target.value || null),
  });
  const valuePicker = values ? mountValuePicker({ attr, names: values, onPick: (name) => setValue(name) }) : null;
  const clear = el(
    "button",
    {
      type: "button",
      class: "small clear",
      dataset: { testid: `clear-${attr}` },
      onclick: () => setDonor(null),
    },
    "Clear",
  );
  const weightRow = el("div", { class: "weight-row" });
  root.replaceChildren(
    thumb,
    el(
      "div",
      { class: "slot-body" },
      el(
        "div",
        { class: "slot-head" },
        el("label", { class: "slot-title", for: pickerId }, attr),
        meta ? el("small", {}, meta) : null,
        clear,
      ),
      valuePicker ? el("div", { class: "slot-pickers" }, picker, valuePicker.node) : picker,
      weightRow,
    ),
  );
  const slider = mountWeightSlider(weightRow, {
    attr,
    limits,
    onInput(weight, dragging) {
      state.weight = weight;
      paint();
      changed(dragging ? "preview" : undefined);
    },
    onRelease: () => changed("final"),
  });
  const undrop = dropTarget(root, {
    onImage: (id) => offer(id, "final"),
    // A card over a slot that holds a value would replace it: that is what is previewed.
    onHover: (id) =>
      onHover(id && id !== state.donor ? { donor: id, value: null, weight: held() ? state.weight : 1 } : null),
    onFiles: async (files) => {
      const id = await uploadFile(files);
      if (id) setDonor(id);
    },
  });

  function thumbContent() {
    if (state.value) {
      return el(
        "span",
        { class: "slot-value", title: `${attr} set to the value ${state.value} (no donor image)` },
        el("span", { class: "badge value" }, "value"),
        el("strong", {}, state.value),
      );
    }
    if (!state.donor) return el("span", {}, "base");
    const img = store.get(state.donor);
    if (img && img.status === "ready") {
      // image.png exists once the image is encoded
      return el("img", { src: urls.image(img), alt: `${attr} donor ${imageLabel(img)}` });
    }
    return el("span", { class: `badge ${img ? img.status : "queued"}` }, img ? img.status : "…");
  }

  function paint() {
    root.classList.toggle("empty", !held());
    root.classList.toggle("has-value", Boolean(state.value));
    root.dataset.donor = state.donor || "";
    root.dataset.value = state.value || "";
    slider.update({ weight: state.weight, enabled: held(), target: state.value ? "value" : "donor" });
    thumb.replaceChildren(thumbContent());
    picker.value = state.donor || "";
    if (picker.options[0]) picker.options[0].textContent = state.value ? "— no donor —" : "— base (no donor) —";
    valuePicker?.set(state.value);
    clear.setAttribute("aria-label", `Clear the ${attr} ${state.value ? "value" : "donor"}`);
  }

  const changed = (mode) => onChange({ donor: state.donor, value: state.value, weight: state.weight }, mode);

  /** Make image `id` the donor (null: none), replacing a value the slot held. */
  function setDonor(id, mode) {
    state.donor = id || null;
    state.value = null;
    paint();
    changed(mode);
  }

  /** Make the value `name` the slot's (null: none), replacing a donor the slot held. */
  function setValue(name, mode) {
    state.value = name || null;
    state.donor = null;
    paint();
    changed(mode);
  }

  // An image that may not be the donor leaves the slot as it was.
  function offer(id, mode) {
    if (!id || accept(id)) setDonor(id, mode);
    else paint();
  }

  function update() {
    picker.replaceChildren(...imageOptions(store.list, "— base (no donor) —", (img) => store.foreignModel(img)));
    paint();
  }

  update();
  return { setDonor, setValue, update, destroy: undrop };
}
