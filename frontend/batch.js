// Entry point of the batch page (batch.html): mounts the components and wires them together. The page is on the
// model its URL names (?model=<name>; without it, the default model): its uploads and batches go there.

import { api, getApiKey, setApiKey, urls } from "./api.js";
import { mount as mountBatchGrid } from "./batch-grid.js";
import { mount as mountBatchProgress } from "./batch-progress.js";
import { mount as mountBatchSpec } from "./batch-spec.js";
import { mount as mountErrorBanner } from "./error-banner.js";
import { mount as mountGallery } from "./gallery.js";
import { ImageStore } from "./image-store.js";
import { exampleFiles, limitsOf, loadModel, modelParam } from "./model.js";
import { mount as mountRecentBatches } from "./recent-batches.js";
import { mount as mountTopbar } from "./topbar.js";

const page = (selector) => document.querySelector(selector);
const BATCH_ID = /^[0-9a-zA-Z_-]+$/;

async function main() {
  const banner = mountErrorBanner(page("#error-banner"));
  const showError = banner.show;
  const chosen = modelParam();
  const store = new ImageStore({ api, onError: showError, model: chosen }); // uploads go into the page's model
  let modelLoaded;
  const modelReady = new Promise((resolve) => (modelLoaded = resolve));
  const gallery = mountGallery(page("#gallery-panel"), {
    store,
    urls,
    showError,
    samples: async () => exampleFiles(await modelReady, urls),
  });
  const topbar = mountTopbar(page(".topbar"), {
    api,
    urls,
    apiKey: { get: getApiKey, set: setApiKey },
    model: chosen,
    onKeyChange: () => location.reload(),
    onHealth: (health) => gallery.setShared(health.api_keys === false),
    onModels: (models) => store.setModels({ defaultModel: models.default ?? null }),
    showError,
  });
  const progress = mountBatchProgress(page(".batch-progress"), { api, urls, showError });
  const recent = mountRecentBatches(page("ul.recent"), { storage: localStorage, onPick: (id) => progress.watch(id) });
  const onBatch = (batch) => {
    recent.remember(batch.id);
    history.replaceState(null, "", `#${batch.id}`);
    progress.watch(batch.id, batch);
  };
  mountBatchSpec(page("details.spec"), { api, model: () => store.model, showError, onBatch });

  const storeReady = store.refresh();
  try {
    const model = await loadModel(api, {
      name: chosen,
      onWait: (err, attempt) => attempt === 0 && showError(err),
      onReady: banner.clear,
    });
    topbar.setModel(model);
    store.setModels(chosen ? { model: model.name } : { model: model.name, defaultModel: model.name });
    modelLoaded(model);
    const grid = mountBatchGrid(page(".grid-form"), { api, model, limits: limitsOf(model), store, showError, onBatch });
    gallery.setCardControls(grid.pickers); // bases and donors are ticked on the gallery's cards
  } catch (err) {
    showError(`Cannot load the model description: ${err.message}`);
  }
  await storeReady;
  const fromHash = location.hash.slice(1);
  if (BATCH_ID.test(fromHash)) progress.watch(fromHash);
  document.body.dataset.ready = "true";
}

main();
