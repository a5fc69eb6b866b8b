// The caller's datasets (GET /api/datasets): one to train on is picked here; Delete asks once more before it goes.

import { el } from "./dom.js";
import { guarded } from "./error-banner.js";

const CONFIRM_MS = 4000; // how long a first click on Delete waits for the second

/**
 * mount(list, {trainApi, onPick, onDelete, showError}) -> {refresh(), add(dataset), setCurrent(id)}.
 * `onPick(dataset)` when one is chosen; `onDelete(id)` once one is deleted.
 */
export function mount(root, { trainApi, onPick, onDelete, showError }) {
  const state = { datasets: null, current: null, confirming: null, timer: null, error: null };

  function item(ds) {
    const current = ds.id === state.current;
    const confirming = ds.id === state.confirming;
    return el(
      "li",
      { class: `dataset-item${current ? " current" : ""}`, dataset: { testid: "dataset-item", datasetId: ds.id } },
      el(
        "button",
        {
          type: "button",
          class: "dataset-pick",
          "aria-pressed": current ? "true" : "false",
          onclick: () => pick(ds),
          dataset: { testid: "dataset-pick" },
        },
        el("span", { class: "dataset-item-name" }, ds.name),
        el("small", {}, `${ds.images} images · ${ds.resolution} px · ${ds.attributes.join(", ")}`),
      ),
      el(
        "button",
        {
          type: "button",
          class: `small dataset-delete${confirming ? " danger" : ""}`,
          "aria-label": confirming ? `Really delete dataset ${ds.name}?` : `Delete dataset ${ds.name}`,
          onclick: () => remove(ds),
          dataset: { testid: "dataset-delete" },
        },
        confirming ? "Delete?" : "Delete",
      ),
    );
  }

  function paint() {
    if (state.error) root.replaceChildren(el("li", { class: "hint" }, `Cannot list your datasets: ${state.error}`));
    else if (!state.datasets) root.replaceChildren(el("li", { class: "hint" }, "loading…"));
    else if (!state.datasets.length) root.replaceChildren(el("li", { class: "hint" }, "None yet: upload one above."));
    else root.replaceChildren(...state.datasets.map(item));
  }

  function pick(ds) {
    state.current = ds.id;
    paint();
    onPick(ds);
  }

  function remove(ds) {
    clearTimeout(state.timer);
    if (state.confirming !== ds.id) {
      state.confirming = ds.id;
      state.timer = setTimeout(() => {
        state.confirming = null;
        paint();
      }, CONFIRM_MS);
      paint();
      // the list was rebuilt: keep the keyboard on the button that now asks
      root.querySelector(`li[data-dataset-id="${CSS.escape(ds.id)}"] .dataset-delete`)?.focus();
      return;
    }
    state.confirming = null;
    guarded(async () => {
      await trainApi.deleteDataset(ds.id);
      state.datasets = (state.datasets || []).filter((d) => d.id !== ds.id);
      if (state.current === ds.id) state.current = null;
      paint();
      onDelete(ds.id);
    }, showError);
  }

  async function refresh() {
    try {
      state.datasets = await trainApi.datasets();
      state.error = null;
    } catch (err) {
      state.error = err.message;
    }
    paint();
    return state.datasets || [];
  }

  paint();
  return {
    refresh,
    add(ds) {
      state.datasets = [ds, ...(state.datasets || []).filter((d) => d.id !== ds.id)];
      paint();
    },
    setCurrent(id) {
      state.current = id;
      paint();
    },
  };
}
