// Entry point of the editor page (index.html): mounts the components and wires them together. The page is on the
// model its URL names (?model=<name>; without it, the default model): everything follows it.

import { api, getApiKey, setApiKey, urls } from "./api.js";
import { mount as mountDomainBanner } from "./domain-banner.js";
import { mount as mountEditor } from "./editor.js";
import { mount as mountErrorBanner } from "./error-banner.js";
import { mount as mountGallery } from "./gallery.js";
import { ImageStore } from "./image-store.js";
import { mount as mountInterpolation } from "./interpolation.js";
import { exampleFiles, limitsOf, loadModel, modelParam } from "./model.js";
import { mount as mountResultPanel } from "./result-panel.js";
import { mount as mountTopbar } from "./topbar.js";

const page = (selector) => document.querySelector(selector);

async function main() {
  const banner = mountErrorBanner(page("#error-banner"));
  const showError = banner.show;
  const apiKey = { get: getApiKey, set: setApiKey };
  const chosen = modelParam();
  const store = new ImageStore({ api, onError: showError, model: chosen }); // uploads go into the page's model
  let editor = null;
  let modelLoaded;
  const modelReady = new Promise((resolve) => (modelLoaded = resolve));
  const gallery = mountGallery(page("#gallery-panel"), {
    store,
    urls,
    showError,
    samples: async () => exampleFiles(await modelReady, urls),
    onUse: (id) => editor?.setBase(id),
  });
  const topbar = mountTopbar(page(".topbar"), {
    api,
    urls,
    apiKey,
    model: chosen,
    onKeyChange: () => location.reload(),
    onHealth: (health) => gallery.setShared(health.api_keys === false),
    onModels: (models) => store.setModels({ defaultModel: models.default ?? null }),
    showError,
  });
  const result = mountResultPanel(page("#result-panel"), { api, urls, store, apiKey, showError });

  const storeReady = store.refresh(); // the gallery does not need the model
  let model;
  try {
    model = await loadModel(api, {
      name: chosen,
      onWait(err, attempt) {
        if (attempt === 0) showError(err);
        result.say("waiting", "waiting for a worker…");
      },
      onReady: banner.clear,
    });
  } catch (err) {
    showError(`Cannot load the model description: ${err.message}`);
    result.say("error", "no model");
    return;
  }
  topbar.setModel(model);
  // Without ?model= the page is on the default model, so its name is also that of the images that name none.
  store.setModels(chosen ? { model: model.name } : { model: model.name, defaultModel: model.name });
  modelLoaded(model);
  const limits = limitsOf(model);
  const domainBanner = mountDomainBanner(page("#domain-banner"), { model, store, urls });
  const interpolation = mountInterpolation(page("#interp-panel"), { api, urls, model, limits, store, showError });
  editor = mountEditor(page("#editor"), {
    model,
    limits,
    store,
    urls,
    showError,
    onChange(edit, mode) {
      domainBanner.update(edit);
      result.update(edit, mode);
      interpolation.update(edit);
    },
    onPreview: (edit) => (edit ? result.preview(edit) : result.revert()),
  });
  domainBanner.update(editor.edit());
  result.update(editor.edit());
  interpolation.update(editor.edit());
  await storeReady;
  document.body.dataset.ready = "true";
}

main();
