// The stages a training goes through (its job's `training.stage`), shown as a list with the current one marked.

import { el } from "./dom.js";

export const STAGES = [
  ["queued", "Queued"],
  ["preparing", "Preparing"],
  ["gae", "Training the GAE"],
  ["domain", "Domain check"],
  ["prototypes", "Value prototypes"],
  ["registering", "Registering"],
  ["done", "Done"],
];

export function stageLabel(stage) {
  return STAGES.find(([s]) => s === stage)?.[1] ?? stage;
}

/**
 * mount(ol) -> {show(stage, state)}: every stage as an item, those passed marked done, the current one
 * aria-current="step" (or stopped, for a cancelled or failed job).
 */
export function mount(root) {
  const items = STAGES.map(([stage, label]) =>
    el("li", { class: "stage", dataset: { stage } }, el("span", { class: "stage-dot", "aria-hidden": "true" }), label),
  );
  root.replaceChildren(...items);

  function show(stage, state) {
    const at = state === "succeeded" ? STAGES.length - 1 : STAGES.findIndex(([s]) => s === stage);
    const stopped = state === "cancelled" || state === "failed";
    items.forEach((li, i) => {
      const mark = i < at ? "done" : i === at ? (stopped ? state : state === "succeeded" ? "done" : "current") : "todo";
      li.dataset.mark = mark;
      if (i === at) li.setAttribute("aria-current", "step");
      else li.removeAttribute("aria-current");
    });
    root.dataset.stage = stage || "";
  }

  show(null, null);
  return { show };
}
