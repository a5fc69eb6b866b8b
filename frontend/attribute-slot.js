// One attribute's slot: its donor (dropped card or <select> picker, empty = keep the base) and
// its blend weight.

import { el, uid } from "./dom.js";
import { dropTarget } from "./drop-target.js";
import { imageLabel, imageOptions } from "./labels.js";
import { mount as mountWeightSlider } from "./weight-slider.js";

/**
 * mount(slot, {attr, meta, limits, store, urls, onChange, onHover, uploadFile, accept}) -> {setDonor(id), update(), destroy()}.
 * Builds the slot inside `slot`; `onChange({donor, weight}, mode)` on every edit, mode "preview" while the
 * weight is dragged, "final" when it is let go or a card is dropped, else undefined; `onHover({donor, weight})`
 * while a card is dragged over the slot, `onHover(null)` when it leaves; `update()` repaints after the image
 * list changed; `uploadFile(files)` resolves to the id of a dropped file; `accept(id)` says whether an image
 * dropped or picked may be the donor (one of another model may not: it explains why and says no).
 */
export function mount(root, { attr, meta, limits, store, urls, onChange, onHover = () => {}, uploadFile, accept = () => true }) {
  const state = { donor: null, weight: 1 };
  const pickerId = uid(`picker-${attr}`);

  const thumb = el("div", { class: "slot-thumb", dataset: { testid: `slot-thumb-${attr}` } });
  const picker = el("select", {
    id: pickerId,
    dataset: { testid: `picker-${attr}` },
    onchange: (ev) => offer(ev.target.value || null),
  });
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
        el(
          "button",
          {
            type: "button",
            class: "small clear",
            "aria-label": `Clear the ${attr} donor`,
            dataset: { testid: `clear-${attr}` },
            onclick: () => setDonor(null),
          },
          "Clear",
        ),
      ),
      picker,
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
    onHover: (id) => onHover(id && id !== state.donor ? { donor: id, weight: state.donor ? state.weight : 1 } : null),
    onFiles: async (files) => {
      const id = await uploadFile(files);
      if (id) setDonor(id);
    },
  });

  function paint() {
    const img = state.donor ? store.get(state.donor) : null;
    root.classList.toggle("empty", !state.donor);
    root.dataset.donor = state.donor || "";
    slider.update({ weight: state.weight, enabled: Boolean(state.donor) });
    const ready = img && img.status === "ready"; // image.png exists once the image is encoded
    thumb.replaceChildren(
      !state.donor
        ? el("span", {}, "base")
        : ready
          ? el("img", { src: urls.image(img), alt: `${attr} donor ${imageLabel(img)}` })
          : el("span", { class: `badge ${img ? img.status : "queued"}` }, img ? img.status : "…"),
    );
    picker.value = state.donor || "";
  }

  const changed = (mode) => onChange({ donor: state.donor, weight: state.weight }, mode);

  function setDonor(id, mode) {
    state.donor = id || null;
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
  return { setDonor, update, destroy: undrop };
}
