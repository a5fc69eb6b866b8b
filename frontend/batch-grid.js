// The batch grid form: every picked base × every picked donor, in one attribute, in the page's model. Images are
// picked on their gallery cards (`pickers(img)`: a base and a donor tick), so each image is shown once on the page;
// those of other models cannot be picked.

import { el, part } from "./dom.js";
import { guarded } from "./error-banner.js";
import { imageLabel } from "./labels.js";
import { wholeNumberProblem } from "./model.js";

const KINDS = ["bases", "donors"];
const KIND_LABEL = { bases: "base", donors: "donor" };

/**
 * mount(form, {api, model, limits, store, showError, onBatch}) -> {pickers(img), destroy()}.
 * The form holds select[name=attr], input[name=weight], select[name=xT], input[name=seed],
 * input[name=steps], output.picked[data-kind=bases|donors], [data-pick=bases|donors] (all / none),
 * [data-action=submit] and .batch-count. `pickers(img)` builds the ticks of a ready image's gallery card
 * (gallery.setCardControls; none for an image of another model). `onBatch(batch)` gets the created batch, whose
 * items run in `model`.
 */
export function mount(root, { api, model, limits, store, showError, onBatch }) {
  const state = {
    attribute: model.attributes.includes("background") ? "background" : model.attributes[0],
    weight: 1,
    x_T: "inferred",
    seed: 0,
    steps: null,
    picked: { bases: new Set(), donors: new Set() },
  };
  const ticks = { bases: new Map(), donors: new Map() }; // image id -> its checkbox on the gallery card
  const picked = Object.fromEntries(KINDS.map((kind) => [kind, part(root, `output.picked[data-kind=${kind}]`)]));
  const submit = part(root, "[data-action=submit]");
  const count = part(root, ".batch-count");
  const field = (name) => part(root, `[name=${name}]`);

  function paintCount() {
    const nb = state.picked.bases.size;
    const nd = state.picked.donors.size;
    for (const kind of KINDS) picked[kind].textContent = state.picked[kind].size ? `${state.picked[kind].size} chosen` : "none";
    count.textContent =
      nb && nd ? `${nb} base${nb === 1 ? "" : "s"} × ${nd} donor${nd === 1 ? "" : "s"} = ${nb * nd} results` : "Choose bases and donors.";
    submit.disabled = !(nb && nd);
  }

  function pickers(img) {
    if (store.foreignModel(img)) return [];
    return KINDS.map((kind) => {
      const box = el("input", {
        type: "checkbox",
        value: img.id,
        checked: state.picked[kind].has(img.id),
        "aria-label": `${imageLabel(img)} as a ${KIND_LABEL[kind]}`,
        dataset: { testid: `pick-${kind}`, kind },
        onchange: (ev) => {
          if (ev.target.checked) state.picked[kind].add(img.id);
          else state.picked[kind].delete(img.id);
          paintCount();
        },
      });
      ticks[kind].set(img.id, box);
      return el("label", { class: `pick ${kind}` }, box, KIND_LABEL[kind]);
    });
  }

  // An image that is gone, no longer ready or of another model cannot be picked.
  function prune() {
    const readyIds = new Set(store.usable().map((img) => img.id));
    for (const kind of KINDS) {
      for (const id of [...state.picked[kind]]) if (!readyIds.has(id)) state.picked[kind].delete(id);
      for (const id of [...ticks[kind].keys()]) if (!readyIds.has(id)) ticks[kind].delete(id);
    }
    paintCount();
  }

  function items() {
    const { weight, steps, seed, x_T, attribute } = state;
    if (!Number.isFinite(weight) || weight < limits.weight.min || weight > limits.weight.max) {
      throw new Error(`Weight must be a number from ${limits.weight.min} to ${limits.weight.max}.`);
    }
    const stepsProblem = steps === null ? null : wholeNumberProblem("Steps", steps, limits.steps);
    if (stepsProblem) throw new Error(stepsProblem);
    const out = [];
    for (const base of state.picked.bases) {
      for (const donor of state.picked.donors) {
        out.push({ base, attributes: { [attribute]: { donor, weight } }, x_T, seed, steps, sampler: null });
      }
    }
    return out;
  }

  // The fields start from the state; from then on the user's input updates it.
  field("attr").replaceChildren(...model.attributes.map((a) => new Option(a, a)));
  field("attr").value = state.attribute;
  Object.assign(field("weight"), { min: String(limits.weight.min), max: String(limits.weight.max), value: String(state.weight) });
  field("xT").value = state.x_T;
  field("seed").value = String(state.seed);
  Object.assign(field("steps"), { min: String(limits.steps.min), max: String(limits.steps.max) });
  field("steps").placeholder = `${model.default_steps ?? "default"}`;
  const number = (v) => (v.trim() ? Number(v) : null);
  field("attr").addEventListener("change", (ev) => (state.attribute = ev.target.value));
  field("weight").addEventListener("input", (ev) => (state.weight = Number(ev.target.value)));
  field("xT").addEventListener("change", (ev) => (state.x_T = ev.target.value));
  field("seed").addEventListener("input", (ev) => (state.seed = number(ev.target.value) ?? 0));
  field("steps").addEventListener("input", (ev) => (state.steps = number(ev.target.value)));

  // "all" picks every ready image; pressed again with all picked, none.
  for (const button of root.querySelectorAll("[data-pick]")) {
    const kind = button.dataset.pick;
    button.addEventListener("click", () => {
      const all = store.usable().map((img) => img.id);
      const everything = all.length > 0 && all.every((id) => state.picked[kind].has(id));
      state.picked[kind] = new Set(everything ? [] : all);
      for (const [id, box] of ticks[kind]) box.checked = state.picked[kind].has(id);
      paintCount();
    });
  }
  submit.addEventListener("click", () => guarded(async () => onBatch(await api.createBatch(items(), model.name)), showError));

  const unsubscribe = store.on(prune);
  prune();
  return { pickers, destroy: unsubscribe };
}
