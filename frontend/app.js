// Entry point of the editor page (index.html).

import { $, initChrome, loadModel, showError } from "./common.js";
import { Editor } from "./editor.js";
import { ImageStore, mountGallery } from "./gallery.js";

async function main() {
  initChrome();
  const store = new ImageStore();
  let editor = null;
  mountGallery($("#gallery-panel"), store, { onUse: (id) => editor?.setBase(id) });

  const storeReady = store.refresh(); // the gallery does not need the model
  let model;
  try {
    model = await loadModel(() => {
      $("[data-testid=job-state]").textContent = "waiting for a worker…";
    });
  } catch (err) {
    showError(`Cannot load the model description: ${err.message}`);
    $("[data-testid=job-state]").textContent = "no model";
    return;
  }
  $("[data-testid=model-name]").textContent = model.name ? `model: ${model.name}` : "";
  editor = new Editor(store, model);
  window.diffusegaeEditor = editor; // for debugging from the console
  await storeReady;
  document.body.dataset.ready = "true";
}

main();
