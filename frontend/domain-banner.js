// The domain banner above the result: when the base or a donor is unlike the images the model was
// trained on (the API's `domain` verdict), it says what the model knows and that the edit is unreliable.

import { el, part } from "./dom.js";
import { outOfDomain, unfamiliarChunks } from "./gallery.js";
import { imageLabel } from "./labels.js";

/**
 * mount(banner, {model, store, urls}) -> {update(edit), destroy()}. The banner holds .domain-message and
 * .examples; it is hidden while every image of the edit is in the model's domain (or has no verdict).
 */
export function mount(root, { model, store, urls }) {
  const state = { edit: null };
  const message = part(root, ".domain-message");
  const examples = part(root, ".examples");
  examples.replaceChildren(
    ...(model.examples || []).slice(0, 4).map((url, i) =>
      el("img", { src: urls.example(url), alt: `Example ${i + 1} of what the model knows`, dataset: { testid: "domain-example" } }),
    ),
  );

  function unfamiliar(edit) {
    if (!edit || !edit.base) return [];
    const ids = [edit.base, ...Object.values(edit.attributes || {}).map((a) => a.donor)].filter(Boolean);
    return [...new Set(ids)].map((id) => store.get(id)).filter(outOfDomain);
  }

  function describe(img, isBase) {
    const parts = unfamiliarChunks(img);
    const which = isBase ? "The base image" : "The donor image";
    const chunks = parts.length ? ` (unfamiliar: ${parts.join(", ")})` : "";
    return `${which} ${imageLabel(img)} is unlike the images this model was trained on${chunks}; edits of it are unreliable.`;
  }

  function paint() {
    const bad = unfamiliar(state.edit);
    root.hidden = bad.length === 0;
    root.dataset.images = bad.map((img) => img.id).join(" ");
    if (!bad.length) return;
    const knows = model.description ? ` This model knows: ${model.description}` : "";
    message.textContent = bad.map((img) => describe(img, img.id === state.edit.base)).join(" ") + knows;
    examples.hidden = examples.children.length === 0;
  }

  const unsubscribe = store.on(paint);
  paint();
  return {
    update(edit) {
      state.edit = edit;
      paint();
    },
    destroy: unsubscribe,
  };
}
