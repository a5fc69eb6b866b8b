// The batch spec form: a zip of images plus a spec (JSON list or CSV) naming files in the zip.

import { part } from "./dom.js";
import { guarded } from "./error-banner.js";

/**
 * mount(details, {api, model, showError, onBatch}) -> {}. The element holds input[name=zip],
 * input[name=spec] and [data-action=submit]; `model()` names the model the batch runs in and the zip's images are
 * uploaded into (null: the default model); `onBatch(batch)` gets the created batch.
 */
export function mount(root, { api, model = () => null, showError, onBatch }) {
  const state = { zip: null, spec: null };
  part(root, "input[name=zip]").addEventListener("change", (ev) => (state.zip = ev.target.files[0] || null));
  part(root, "input[name=spec]").addEventListener("change", (ev) => (state.spec = ev.target.files[0] || null));
  part(root, "[data-action=submit]").addEventListener("click", () =>
    guarded(async () => {
      if (!state.zip || !state.spec) throw new Error("Choose both a .zip of images and a spec file.");
      onBatch(await api.createBatchFromSpec(state.zip, await state.spec.text(), model()));
    }, showError),
  );
  return {};
}
