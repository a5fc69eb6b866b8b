// The editor's notice for an image of another model dropped or picked onto a slot: an edit runs in one model, so it
// says why the image cannot be used and offers to encode the same picture in the page's model (a new image).

import { part } from "./dom.js";
import { guarded } from "./error-banner.js";
import { imageLabel } from "./labels.js";

/**
 * mount(notice, {store, showError}) -> {explain(img, role, use), clear()}.
 * The notice holds .model-notice-text, [data-action=encode] and [data-action=dismiss]. `explain(img, role, use)`
 * says why `img` cannot be the `role` ("base", "pose donor") and offers to encode it in the page's model
 * (store.model); once that is queued, `use(id)` gets the new image's id. Nothing is submitted before the button is
 * pressed.
 */
export function mount(root, { store, showError }) {
  const state = { img: null, role: "", use: null, busy: false };
  const text = part(root, ".model-notice-text");
  const encode = part(root, "[data-action=encode]");

  function paint() {
    root.hidden = !state.img;
    if (!state.img) {
      delete root.dataset.image;
      return;
    }
    const other = store.modelOf(state.img);
    const here = store.model;
    text.textContent =
      `${imageLabel(state.img)} cannot be the ${state.role}: this image is encoded in model ${other}; the editor is ` +
      `on model ${here}. An edit uses images of one model: encode the picture in ${here} (a new image) to use it here.`;
    encode.textContent = state.busy ? "Encoding…" : `Encode it in ${here}`;
    encode.disabled = state.busy;
    root.dataset.image = state.img.id;
  }

  function explain(img, role, use) {
    Object.assign(state, { img, role, use, busy: false });
    paint();
  }

  function clear() {
    Object.assign(state, { img: null, role: "", use: null, busy: false });
    paint();
  }

  encode.addEventListener("click", () =>
    guarded(async () => {
      const { img, use } = state;
      if (!img || state.busy) return;
      state.busy = true;
      paint();
      try {
        const encoded = await store.encode(img.id);
        clear();
        use(encoded.id);
      } finally {
        if (state.img === img) {
          state.busy = false;
          paint();
        }
      }
    }, showError),
  );
  part(root, "[data-action=dismiss]").addEventListener("click", clear);
  paint();
  return { explain, clear };
}
