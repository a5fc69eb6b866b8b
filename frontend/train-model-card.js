// The model a training made (GET /api/models/{name}): what it knows, its card, examples and figures, and a link that
// opens the editor on it (?model=<name>, as the model picker does).

import { el, part, setLinkEnabled } from "./dom.js";
import { withModel } from "./model.js";
import { modelFacts } from "./model-picker.js";
import { cardNodes } from "./train-card-html.js";

const RETRY_MS = 1000;
const MAX_TRIES = 120; // a registered model is published by a worker within a heartbeat or two

/**
 * mount(root, {trainApi, showError}) -> {show(name), clear()}. The root holds .model-empty, .model-result,
 * a[data-action=open-editor] and .model-card. show() fetches the model (again while it is not known yet or not
 * ready) and fills the card.
 */
export function mount(root, { trainApi, showError }) {
  const state = { name: null, detail: null, timer: null, tries: 0 };
  const empty = part(root, ".model-empty");
  const result = part(root, ".model-result");
  const open = part(root, "a[data-action=open-editor]");
  const card = part(root, ".model-card");

  function paint() {
    const d = state.detail;
    empty.hidden = Boolean(state.name);
    result.hidden = !state.name;
    root.dataset.model = state.name || "";
    if (!state.name) return;
    setLinkEnabled(open, true);
    open.href = withModel("./", state.name);
    open.textContent = `Open ${state.name} in the editor`;
    if (!d) {
      card.replaceChildren(el("p", { class: "hint" }, `Waiting for model ${state.name} to be published…`));
      return;
    }
    const ready = d.status === "ready";
    const values = Object.entries(d.values || {});
    const parts = [
      el(
        "h3",
        { class: "model-card-name" },
        d.name,
        el("span", { class: `badge ${ready ? "ready" : "queued"}`, title: d.status, dataset: { testid: "model-card-status" } }, d.status),
      ),
      el("p", { class: "model-card-facts" }, modelFacts(d)),
      d.description ? el("p", { class: "hint" }, d.description) : null,
      values.length && !d.card_html // a card has its own table of the values
        ? el("dl", { class: "model-card-values" }, ...values.flatMap(([a, vs]) => [el("dt", {}, a), el("dd", {}, vs.join(", "))]))
        : null,
      d.examples?.length
        ? el(
            "div",
            { class: "model-card-examples", "aria-label": "Example images" },
            ...d.examples.map((u, i) => el("img", { src: u, alt: `Example ${i + 1}`, loading: "lazy" })),
          )
        : null,
      d.card_html
        ? el("div", { class: "model-card-text", dataset: { testid: "model-card-text" } }, ...cardNodes(d.card_html, d.figures || []))
        : el("p", { class: "hint" }, "This model has no written card (MODEL_CARD.md) yet: the facts above are what it knows."),
      d.figures?.length
        ? el(
            "div",
            { class: "model-card-figures" },
            ...d.figures.map((u) => el("a", { href: u, target: "_blank" }, el("img", { src: u, alt: "Evaluation figure", loading: "lazy" }))),
          )
        : null,
    ];
    card.replaceChildren(...parts.filter(Boolean));
  }

  async function fetchDetail(name) {
    if (state.name !== name) return;
    state.tries += 1;
    try {
      state.detail = await trainApi.modelDetail(name);
    } catch (err) {
      if (err.status !== 404 || state.tries >= MAX_TRIES) {
        showError(`Cannot load model ${name}: ${err.message}`);
        return;
      }
    }
    if (state.name !== name) return;
    paint();
    if (state.detail?.status !== "ready" && state.tries < MAX_TRIES) {
      state.timer = setTimeout(() => fetchDetail(name), state.detail ? RETRY_MS * 2 : RETRY_MS);
    }
  }

  function show(name) {
    if (name === state.name) return;
    clearTimeout(state.timer);
    Object.assign(state, { name, detail: null, tries: 0 });
    paint();
    fetchDetail(name);
  }

  function clear() {
    clearTimeout(state.timer);
    Object.assign(state, { name: null, detail: null, tries: 0 });
    paint();
  }

  paint();
  return { show, clear };
}
