// The base slot: the image every edit starts from (dropped card or <select> picker).

import { el, part } from "./dom.js";
import { dropTarget } from "./drop-target.js";
import { cropText } from "./gallery.js";
import { imageLabel, imageOptions } from "./labels.js";

/**
 * mount(slot, {store, urls, onChange, uploadFile, accept}) -> {set(id), update(), destroy()}.
 * The slot holds .slot-thumb, select[name=base] and .slot-note; `onChange(id)` on every change. `accept(id)` says
 * whether an image dropped or picked may be the base (one of another model may not: it explains why and says no).
 */
export function mount(root, { store, urls, onChange, uploadFile, accept = () => true }) {
  const state = { base: null };
  const thumb = part(root, ".slot-thumb");
  const picker = part(root, "select[name=base]");
  const note = part(root, ".slot-note");

  function paint() {
    const img = state.base ? store.get(state.base) : null;
    root.dataset.base = state.base || "";
    root.classList.toggle("empty", !state.base);
    // image.png exists once the image is encoded: until then the slot says so instead of asking for it.
    thumb.replaceChildren(
      !state.base
        ? el("span", {}, "drop a base image")
        : img && img.status === "ready"
          ? el("img", { src: urls.image(img), alt: `Base ${imageLabel(img)}` })
          : el("span", {}, img ? img.status : "…"),
    );
    picker.value = state.base || "";
    const crop = img && img.status === "ready" ? cropText(img) : null;
    note.textContent = !state.base
      ? "Drag an image here or choose one."
      : img
        ? `${img.status}${img.error ? `: ${img.error}` : ""}${crop ? ` — the model sees the square shown: ${crop}` : ""}`
        : "";
    paintCrop(img);
  }

  // The upload with the square the model sees outlined (only when something was cut off).
  function paintCrop(img) {
    root.querySelector(".crop-view")?.remove();
    const c = img && img.status === "ready" ? img.crop : null;
    if (!c || !c.cropped) return;
    const [w, h] = c.source_size;
    const pct = (v, of) => `${((100 * v) / of).toFixed(2)}%`;
    const box = el("span", { class: "crop-box" });
    box.style.left = pct(c.box[0], w);
    box.style.top = pct(c.box[1], h);
    box.style.width = pct(c.box[2] - c.box[0], w);
    box.style.height = pct(c.box[3] - c.box[1], h);
    note.after(
      el(
        "div",
        { class: "crop-view", dataset: { testid: "base-crop" }, title: "The upload; the model sees only the outlined square" },
        el("img", { src: urls.original(img), alt: `Upload of ${imageLabel(img)}, with the square the model sees` }),
        box,
      ),
    );
  }

  function set(id) {
    state.base = id || null;
    paint();
    onChange(state.base);
  }

  function update() {
    picker.replaceChildren(...imageOptions(store.list, "— choose a base —", (img) => store.foreignModel(img)));
    paint();
  }

  // An image that may not be the base leaves the slot as it was.
  const offer = (id) => (!id || accept(id) ? set(id) : paint());
  const onPick = (ev) => offer(ev.target.value || null);
  picker.addEventListener("change", onPick);
  const undrop = dropTarget(root, {
    onImage: offer,
    onFiles: async (files) => {
      const id = await uploadFile(files);
      if (id) set(id);
    },
  });
  update();
  return {
    set,
    update,
    destroy() {
      undrop();
      picker.removeEventListener("change", onPick);
    },
  };
}
