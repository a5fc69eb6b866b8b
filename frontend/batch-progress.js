// One batch's progress (polled): state, counts, per-item results, the results zip and Cancel.

import { expiresAt, isTerminal } from "./api.js";
import { el, part, setLinkEnabled, setProgress } from "./dom.js";
import { guarded } from "./error-banner.js";
import { shortId } from "./labels.js";

const POLL_MS = 700;
const RESIGN_MARGIN_MS = 30_000; // a finished batch is fetched again this long before its signed URLs expire

/**
 * mount(root, {api, urls, showError}) -> {watch(id, first), destroy()}. The root holds .batch-id,
 * <progress>, .job-state, .batch-counts, a[data-action=download], [data-action=cancel] and
 * ol.batch-items. watch() follows batch `id` (`first`: a BatchOut already at hand).
 */
export function mount(root, { api, urls, showError }) {
  const state = { id: null, batch: null, timer: null, itemsKey: null };
  const idText = part(root, ".batch-id");
  const bar = part(root, "progress");
  const status = part(root, ".job-state");
  const counts = part(root, ".batch-counts");
  const download = part(root, "a[data-action=download]");
  const cancel = part(root, "[data-action=cancel]");
  const items = part(root, "ol.batch-items");

  function item(it, i) {
    const url = urls.jobResult(it);
    return el(
      "li",
      { class: `item ${it.state}`, dataset: { testid: "batch-item", state: it.state } },
      it.state === "succeeded"
        ? el("a", { href: url, target: "_blank", title: `Result ${i + 1}` }, el("img", { src: url, alt: `Result ${i + 1}`, loading: "lazy" }))
        : el("span", { class: "ph" }, "…"),
      el("span", { class: `badge ${it.state}` }, it.state),
      it.error ? el("span", { class: "item-error" }, it.error) : null,
    );
  }

  function paint() {
    idText.textContent = state.id ? `batch ${state.id}` : "";
    const b = state.batch;
    const final = b !== null && isTerminal(b.state);
    cancel.disabled = !b || final;
    setLinkEnabled(download, final && b.done > 0);
    if (!b) return;
    const finished = b.done + b.failed + b.cancelled;
    // `progress` (0..1) counts sampler steps, so the bar moves within items too.
    setProgress(bar, Math.round(b.progress * 1000), 1000);
    bar.setAttribute("aria-valuetext", `${finished} of ${b.total} items`);
    status.textContent = `${b.state} ${finished}/${b.total}`;
    status.dataset.state = b.state;
    counts.textContent = `${b.done} done · ${b.failed} failed${b.cancelled ? ` · ${b.cancelled} cancelled` : ""} · ${b.total} total`;
    if (final && b.done > 0) {
      download.href = urls.batchZip(b);
      download.download = `diffusegae-batch-${shortId(b.id)}.zip`;
    }
    const key = JSON.stringify(b.items);
    if (b.items && key !== state.itemsKey) {
      state.itemsKey = key;
      items.replaceChildren(...b.items.map(item));
    }
  }

  async function tick(id) {
    if (state.id !== id) return;
    let b;
    try {
      b = await api.getBatch(id);
    } catch (err) {
      showError(err);
      return;
    }
    if (state.id !== id) return;
    state.batch = b;
    paint();
    if (!isTerminal(b.state)) state.timer = setTimeout(() => tick(id), POLL_MS);
    else if (Number.isFinite(expiresAt(b.results_url))) {
      // the zip link and the results' links stay usable on a page left open
      const wait = Math.max(POLL_MS, expiresAt(b.results_url) - Date.now() - RESIGN_MARGIN_MS);
      state.timer = setTimeout(() => tick(id), Math.min(wait, 2 ** 31 - 1));
    }
  }

  function watch(id, first = null) {
    clearTimeout(state.timer);
    Object.assign(state, { id, batch: first && first.id === id ? first : null, itemsKey: null });
    paint();
    tick(id);
  }

  cancel.addEventListener("click", () =>
    guarded(async () => {
      if (!state.id) return;
      await api.cancelBatch(state.id);
      watch(state.id, state.batch);
    }, showError),
  );
  paint();
  return {
    watch,
    destroy() {
      clearTimeout(state.timer);
      state.id = null;
    },
  };
}
