// Entry point of the batch page (batch.html): a bases x donors grid for one attribute, or a
// spec file; then progress, per-item state and the results zip.

import { api, urls, withKey } from "./api.js";
import { $, el, guarded, imageLabel, initChrome, loadModel, setProgress, shortId, showError } from "./common.js";
import { ImageStore, mountGallery } from "./gallery.js";

const RECENT_KEY = "diffusegae.recentBatches";
const FINAL_STATES = new Set(["succeeded", "failed", "cancelled", "done", "completed", "finished"]);

const picked = { bases: new Set(), donors: new Set() };
let model = null;
let store = null;
let current = null; // batch id being watched
let pollTimer = null;

function recent() {
  try {
    return JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
  } catch {
    return [];
  }
}

function remember(id) {
  const ids = [id, ...recent().filter((x) => x !== id)].slice(0, 8);
  localStorage.setItem(RECENT_KEY, JSON.stringify(ids));
  paintRecent();
}

function paintRecent() {
  $("[data-testid=recent-batches]").replaceChildren(
    ...recent().map((id) =>
      el("li", {}, el("a", { href: `#${id}`, class: "mono", onclick: () => watch(id) }, shortId(id))),
    ),
  );
}

// ---- grid form ---------------------------------------------------------------------------------

function paintPickers() {
  const ready = store.ready();
  const readyIds = new Set(ready.map((i) => i.id));
  for (const kind of ["bases", "donors"]) {
    for (const id of [...picked[kind]]) if (!readyIds.has(id)) picked[kind].delete(id);
    const grid = $(`[data-testid=batch-${kind}]`);
    grid.replaceChildren(
      ...(ready.length
        ? ready.map((img) => {
            const box = el("input", {
              type: "checkbox",
              value: img.id,
              checked: picked[kind].has(img.id),
              dataset: { testid: `pick-${kind}` },
              onchange: (ev) => {
                if (ev.target.checked) picked[kind].add(img.id);
                else picked[kind].delete(img.id);
                paintCount();
              },
            });
            return el(
              "label",
              { class: "pick", title: imageLabel(img) },
              box,
              el("img", { src: urls.image(img.id), alt: "" }),
              el("span", {}, imageLabel(img)),
            );
          })
        : [el("p", { class: "hint" }, "Upload images (or press Samples); ready ones appear here.")]),
    );
  }
  paintCount();
}

function paintCount() {
  const nb = picked.bases.size;
  const nd = picked.donors.size;
  $("[data-testid=batch-count]").textContent =
    nb && nd ? `${nb} base${nb === 1 ? "" : "s"} × ${nd} donor${nd === 1 ? "" : "s"} = ${nb * nd} results` : "Choose bases and donors.";
  $("#batch-submit").disabled = !(nb && nd);
}

function gridItems() {
  const attribute = $("#batch-attr").value;
  const weight = Number($("#batch-weight").value);
  if (!Number.isFinite(weight) || Math.abs(weight) > 3) throw new Error("Weight must be a number between -3 and 3.");
  const stepsRaw = $("#batch-steps").value.trim();
  const steps = stepsRaw ? Number(stepsRaw) : null;
  if (steps !== null && (!Number.isInteger(steps) || steps < 2 || steps > 1000)) throw new Error("Steps must be a whole number from 2 to 1000.");
  const seed = Number($("#batch-seed").value || 0);
  const x_T = $("#batch-xt").value;
  const items = [];
  for (const base of picked.bases) {
    for (const donor of picked.donors) {
      items.push({ base, attributes: { [attribute]: { donor, weight } }, x_T, seed, steps, sampler: null });
    }
  }
  return items;
}

async function submitGrid() {
  const items = gridItems();
  const batch = await api.createBatch(items);
  start(batch);
}

async function submitSpec() {
  const zip = $("#spec-zip").files[0];
  const spec = $("#spec-file").files[0];
  if (!zip || !spec) throw new Error("Choose both a .zip of images and a spec file.");
  const batch = await api.createBatchFromSpec(zip, await spec.text());
  start(batch);
}

// ---- progress ----------------------------------------------------------------------------------

function start(batch) {
  remember(batch.id);
  history.replaceState(null, "", `#${batch.id}`);
  watch(batch.id, batch);
}

function isFinal(b) {
  return FINAL_STATES.has(b.state) || (b.total > 0 && (b.done ?? 0) + (b.failed ?? 0) >= b.total && b.state !== "running" && b.state !== "queued");
}

async function watch(id, first = null) {
  clearTimeout(pollTimer);
  current = id;
  $("[data-testid=batch-id]").textContent = `batch ${id}`;
  const dl = $("#batch-download");
  dl.classList.add("disabled");
  dl.setAttribute("aria-disabled", "true");
  dl.removeAttribute("href");
  if (first) paint(first);
  const tick = async () => {
    if (current !== id) return;
    let b;
    try {
      b = await api.getBatch(id);
    } catch (err) {
      showError(err);
      return;
    }
    if (current !== id) return;
    paint(b);
    if (!isFinal(b)) pollTimer = setTimeout(tick, 700);
  };
  tick();
}

function paint(b) {
  const total = b.total ?? (b.items ? b.items.length : 0);
  const done = b.done ?? 0;
  const failed = b.failed ?? 0;
  const cancelled = b.cancelled ?? 0;
  const finished = done + failed + cancelled;
  const bar = $("#batch-progress");
  // `progress` (0..1) counts sampler steps, so the bar moves within items too.
  if (typeof b.progress === "number") setProgress(bar, Math.round(b.progress * 1000), 1000);
  else setProgress(bar, finished, total);
  if (isFinal(b) && b.state === "succeeded") bar.value = 1;
  bar.setAttribute("aria-valuetext", `${finished} of ${total} items`);
  const state = $("[data-testid=batch-state]");
  state.textContent = `${b.state} ${finished}/${total}`;
  state.dataset.state = b.state;
  $("[data-testid=batch-counts]").textContent =
    `${done} done · ${failed} failed${cancelled ? ` · ${cancelled} cancelled` : ""} · ${total} total`;
  const final = isFinal(b);
  $("#batch-cancel").disabled = final;
  const dl = $("#batch-download");
  if (final && done > 0) {
    dl.href = urls.batchZip(b.id);
    dl.download = `diffusegae-batch-${shortId(b.id)}.zip`;
    dl.classList.remove("disabled");
    dl.removeAttribute("aria-disabled");
  }
  if (Array.isArray(b.items)) {
    $("[data-testid=batch-items]").replaceChildren(
      ...b.items.map((item, i) => {
        const url = item.result_url ? withKey(item.result_url) : item.job_id ? urls.jobResult(item.job_id) : null;
        return el(
          "li",
          { class: `item ${item.state || ""}`, dataset: { testid: "batch-item", state: item.state || "" } },
          url && item.state === "succeeded"
            ? el("a", { href: url, target: "_blank", title: `Result ${i + 1}` }, el("img", { src: url, alt: `Result ${i + 1}`, loading: "lazy" }))
            : el("span", { class: "ph" }, "…"),
          el("span", { class: `badge ${item.state}` }, item.state || "?"),
          item.error ? el("span", { class: "item-error" }, item.error) : null,
        );
      }),
    );
  }
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  initChrome();
  store = new ImageStore();
  mountGallery($("#gallery-panel"), store);
  store.on(paintPickers);
  paintRecent();

  $("#batch-submit").addEventListener("click", () => guarded(submitGrid));
  $("#spec-submit").addEventListener("click", () => guarded(submitSpec));
  $("#batch-cancel").addEventListener("click", () =>
    guarded(async () => {
      if (!current) return;
      await api.cancelBatch(current);
      watch(current);
    }),
  );
  for (const button of document.querySelectorAll("[data-pick]")) {
    button.addEventListener("click", () => {
      const kind = button.dataset.pick;
      const all = store.ready().map((i) => i.id);
      const everything = all.every((id) => picked[kind].has(id));
      picked[kind] = new Set(everything ? [] : all);
      paintPickers();
    });
  }

  const storeReady = store.refresh();
  try {
    model = await loadModel();
    $("#batch-attr").replaceChildren(...model.attributes.map((a) => el("option", { value: a }, a)));
    if (model.attributes.includes("background")) $("#batch-attr").value = "background";
    $("#batch-steps").placeholder = `${model.default_steps ?? "default"}`;
    $("[data-testid=model-name]").textContent = model.name ? `model: ${model.name}` : "";
  } catch (err) {
    showError(`Cannot load the model description: ${err.message}`);
  }
  await storeReady;
  const fromHash = location.hash.slice(1);
  if (/^[0-9a-zA-Z_-]+$/.test(fromHash)) watch(fromHash);
  document.body.dataset.ready = "true";
}

main();
