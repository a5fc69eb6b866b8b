// Entry point of the Train page (train.html): a person's labelled pictures become a model of their own. A dataset is
// uploaded (or picked), a training started on a base model (the URL's ?model=<name>, else the default), followed
// live, cancelled or resumed, and the finished model opened in the editor. The training followed is remembered
// (localStorage), so a reload attaches to it again.

import { api, getApiKey, isTerminal, setApiKey, trainApi, urls } from "./api.js";
import { mount as mountErrorBanner } from "./error-banner.js";
import { modelParam, withModel } from "./model.js";
import { mount as mountTopbar } from "./topbar.js";
import { mount as mountDatasetList } from "./train-dataset-list.js";
import { mount as mountDatasetSummary } from "./train-dataset-summary.js";
import { mount as mountDatasetUpload } from "./train-dataset-upload.js";
import { mount as mountTrainForm } from "./train-form.js";
import { rememberDataset, rememberTraining, rememberedDataset, rememberedTraining } from "./train-memory.js";
import { mount as mountModelCard } from "./train-model-card.js";
import { mount as mountMonitor } from "./train-monitor.js";

const page = (selector) => document.querySelector(selector);

async function main() {
  const banner = mountErrorBanner(page("#error-banner"));
  const showError = banner.show;
  const chosen = modelParam(); // the base model the URL names (null: the default)
  const topbar = page(".topbar");
  let modelsArrived;
  const modelsReady = new Promise((resolve) => (modelsArrived = resolve));

  const summary = mountDatasetSummary(page(".dataset-summary"));
  const upload = mountDatasetUpload(page(".dataset-upload"), { trainApi, showError, onDataset: (ds) => useDataset(ds, true) });
  const form = mountTrainForm(page("form.train-form"), {
    async start(body) {
      monitor.follow(await trainApi.startTraining(body)); // followed from here on; not awaited (it lasts the training)
    },
    onBaseChange(base, byUser) {
      if (!base) return;
      upload.setDefaultResolution(base.resolution);
      if (!byUser) return;
      // the page is on the base model chosen: the top bar and the other pages' links follow it
      history.replaceState(null, "", withModel(location.href, base.name) + location.hash);
      bar.setModel({ name: base.name });
      for (const a of topbar.querySelectorAll("nav a")) a.setAttribute("href", withModel(a.getAttribute("href"), base.name));
    },
  });
  const bar = mountTopbar(topbar, {
    api,
    urls,
    apiKey: { get: getApiKey, set: setApiKey },
    model: chosen,
    onKeyChange: () => location.reload(),
    onModels(answer) {
      form.setModels(answer, chosen);
      modelsArrived();
    },
    showError,
  });
  const card = mountModelCard(page("#model-panel"), { trainApi, showError });
  const monitor = mountMonitor(page(".train-run"), {
    api,
    trainApi,
    showError,
    onJob(job) {
      rememberTraining(job.id);
      card.clear();
    },
    onChange: (job) => form.setBlocked(isTerminal(job.state) ? null : "A training is running: cancel it, or wait for it to end."),
    onSucceeded(job) {
      if (!job.model) return;
      card.show(job.model);
      api.models().then((answer) => form.setModels(answer, chosen), () => {}); // its name is taken now
    },
  });
  const list = mountDatasetList(page("ul.dataset-list"), {
    trainApi,
    showError,
    onPick: (ds) => useDataset(ds, false),
    onDelete(id) {
      if (page(".dataset-summary").dataset.datasetId !== id) return;
      summary.clear();
      form.setDataset(null);
      rememberDataset(null);
    },
  });

  function useDataset(ds, fresh) {
    if (fresh) list.add(ds);
    list.setCurrent(ds.id);
    summary.show(ds);
    form.setDataset(ds);
    rememberDataset(ds.id);
  }

  const datasets = list.refresh().then((all) => {
    const ds = all.find((d) => d.id === rememberedDataset());
    if (ds && !form.dataset()) useDataset(ds, false);
  });
  const remembered = rememberedTraining();
  if (remembered) {
    try {
      if (!(await monitor.attach(remembered))) rememberTraining(null);
    } catch (err) {
      showError(`Cannot show the training ${remembered}: ${err.message}`);
    }
  }
  await Promise.all([datasets, modelsReady]);
  document.body.dataset.ready = "true";
}

main();
