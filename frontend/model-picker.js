// The model picker in the top bar: every model of GET /api/models with its thumbnail, resolution and attributes,
// the page's marked, the status of those not ready. Choosing one opens the page on it (?model=<name>), so the
// choice can be shared and reloaded.

import { el, part } from "./dom.js";
import { withModel } from "./model.js";

/** "16×16 px · background, pose, color" (what a model's summary says of its inputs and attributes). */
export function modelFacts(summary) {
  const size = summary.resolution ? `${summary.resolution}×${summary.resolution} px` : null;
  const attrs = summary.attributes?.length ? summary.attributes.join(", ") : null;
  return [size, attrs].filter(Boolean).join(" · ");
}

/**
 * mount(details, {api, urls, current, onModels, showError}) -> {setCurrent(name), setStatuses(models), refresh()}.
 * The element is a <details> holding a <summary> and ul.model-list. `current` names the page's model (null: the
 * default, until `setCurrent` names it). `onModels({models, default})` gets every answer of GET /api/models;
 * `setStatuses(models)` takes the statuses of GET /api/health's `models`. The list is fetched at once and again
 * each time it is opened.
 */
export function mount(root, { api, urls, current = null, onModels = () => {}, showError = () => {} }) {
  const state = { current, list: null, defaultName: null, error: null };
  const summary = part(root, "summary");
  const list = part(root, "ul.model-list");

  const here = () => state.current || state.defaultName;

  function option(m) {
    const isCurrent = m.name === here();
    const ready = m.status === "ready";
    const thumb = urls.modelThumb(m);
    return el(
      "li",
      {},
      el(
        "a",
        {
          class: `model-option${isCurrent ? " current" : ""}${ready ? "" : " not-ready"}`,
          href: withModel(location.href, m.name),
          "aria-current": isCurrent ? "true" : null,
          title: m.description || m.name,
          dataset: { testid: "model-option", model: m.name, status: m.status },
        },
        thumb
          ? el("img", { class: "model-thumb", src: thumb, alt: "", loading: "lazy" })
          : el("span", { class: "model-thumb empty" }),
        el(
          "span",
          { class: "model-option-body" },
          el(
            "span",
            { class: "model-option-name" },
            m.name,
            m.default ? el("small", {}, " default") : null,
            isCurrent ? el("small", { class: "current-mark" }, " ✓ this page") : null,
          ),
          el("span", { class: "model-option-facts" }, modelFacts(m)),
        ),
        ready
          ? null
          : el("span", { class: `badge model-status ${m.status.split(":")[0]}`, title: m.status, dataset: { testid: "model-status" } }, m.status),
      ),
    );
  }

  function paint() {
    const name = here();
    const entry = state.list?.find((m) => m.name === name);
    const status = entry && entry.status !== "ready" ? ` (${entry.status.split(":")[0]})` : "";
    summary.textContent = `Model: ${name || "…"}${status}`;
    summary.title = entry ? `${modelFacts(entry)}${entry.status === "ready" ? "" : ` — ${entry.status}`}` : "";
    root.dataset.model = name || "";
    if (state.error) {
      list.replaceChildren(el("li", { class: "model-error" }, `Cannot list the models: ${state.error}`));
    } else if (!state.list) {
      list.replaceChildren(el("li", { class: "model-error" }, "loading…"));
    } else {
      list.replaceChildren(...state.list.map(option));
    }
  }

  async function refresh() {
    try {
      const answer = await api.models();
      state.list = answer.models || [];
      state.defaultName = answer.default ?? null;
      state.error = null;
      onModels(answer);
    } catch (err) {
      state.error = err.message;
      if (!state.list) showError(`Cannot list the models: ${err.message}`);
    }
    paint();
  }

  root.addEventListener("toggle", () => {
    if (root.open) refresh();
  });
  // Closed by a click elsewhere or Escape, like a menu.
  document.addEventListener("click", (ev) => {
    if (root.open && !root.contains(ev.target)) root.open = false;
  });
  root.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && root.open) {
      root.open = false;
      summary.focus();
    }
  });
  paint();
  refresh();

  return {
    setCurrent(name) {
      state.current = name;
      paint();
    },
    setStatuses(models) {
      if (!state.list || !Array.isArray(models)) return;
      const statuses = new Map(models.map((m) => [m.name, m.status]));
      let changed = false;
      for (const m of state.list) {
        const status = statuses.get(m.name);
        if (status && status !== m.status) {
          m.status = status;
          changed = true;
        }
      }
      if (changed) paint();
    },
    refresh,
  };
}
