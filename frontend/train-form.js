// The form that starts a training (POST /api/trainings): the dataset picked, the new model's name (made from the
// dataset's until the person types one), the base model, steps, seed and the checkpoint interval. Problems, the
// page's own checks and the API's 4xx detail alike, are shown next to the form.

import { part } from "./dom.js";
import { modelNameFrom, modelNameProblem } from "./train-model-name.js";

const MAX_STEPS = 200_000;
const MAX_SEED = 2 ** 31 - 1;

function wholeNumber(input, label, min, max, { optional = false } = {}) {
  const raw = input.value.trim();
  if (optional && raw === "") return { value: null };
  const value = Number(raw);
  if (raw === "" || !Number.isInteger(value) || value < min || value > max)
    return { problem: `${label} must be a whole number from ${min} to ${max}${optional ? " (or empty)" : ""}.` };
  return { value };
}

/**
 * mount(form, {start, onBaseChange}) -> {setDataset(ds), dataset(), setModels({models, default}, preferred),
 * setBlocked(reason), baseModel()}. The form holds output[name=dataset], input[name=name], select[name=base_model], input[name=steps],
 * input[name=seed], input[name=checkpoint_every], a submit button and .form-problem. `start(body)` posts the
 * training (its error's message is shown); `onBaseChange(summary, byUser)` follows the base model select.
 */
export function mount(form, { start, onBaseChange = () => {} }) {
  const state = { dataset: null, models: [], nameTyped: false, busy: false, blocked: null };
  const datasetOut = part(form, "output[name=dataset]");
  const name = part(form, "input[name=name]");
  const base = part(form, "select[name=base_model]");
  const steps = part(form, "input[name=steps]");
  const seed = part(form, "input[name=seed]");
  const every = part(form, "input[name=checkpoint_every]");
  const submit = part(form, "[type=submit]");
  const problem = part(form, ".form-problem");
  const fields = { name, steps, seed, checkpoint_every: every };

  function showProblem(text, field = null) {
    problem.textContent = text || "";
    problem.hidden = !text;
    for (const input of Object.values(fields)) input.removeAttribute("aria-invalid");
    if (field) {
      fields[field]?.setAttribute("aria-invalid", "true");
      fields[field]?.focus();
    }
  }

  // The server's default interval (a tenth of the steps, at least 50) is shown where an empty field leaves it.
  function paintCheckpointDefault() {
    const n = Number(steps.value);
    every.placeholder = Number.isInteger(n) && n > 0 ? `auto: ${Math.max(50, Math.floor(n / 10))}` : "auto";
  }

  function paint() {
    datasetOut.textContent = state.dataset ? `${state.dataset.name} (${state.dataset.images} images, ${state.dataset.resolution} px)` : "none: upload or pick one";
    datasetOut.dataset.datasetId = state.dataset?.id || "";
    submit.disabled = state.busy || !state.dataset || Boolean(state.blocked);
    submit.textContent = state.busy ? "Starting…" : "Start training";
    submit.title = state.blocked || (state.dataset ? "" : "Upload or pick a dataset first");
  }

  const chosenBase = () => state.models.find((m) => m.name === base.value) || null;

  function suggestName() {
    if (state.nameTyped || !state.dataset) return;
    name.value = modelNameFrom(state.dataset.name, state.models.map((m) => m.name));
  }

  function collect() {
    if (!state.dataset) return { problem: "Upload or pick a dataset first." };
    const nameProblem = modelNameProblem(name.value.trim());
    if (nameProblem) return { problem: nameProblem, field: "name" };
    if (state.models.some((m) => m.name === name.value.trim()))
      return { problem: `A model named ${name.value.trim()} exists already; choose another name.`, field: "name" };
    const body = { dataset: state.dataset.id, name: name.value.trim() };
    if (base.value) body.base_model = base.value;
    for (const [key, input, label, min, max, optional] of [
      ["steps", steps, "Steps", 1, MAX_STEPS, false],
      ["seed", seed, "Seed", 0, MAX_SEED, false],
      ["checkpoint_every", every, "Checkpoint every", 1, MAX_STEPS, true],
    ]) {
      const { value, problem: p } = wholeNumber(input, label, min, max, { optional });
      if (p) return { problem: p, field: key };
      if (value !== null) body[key] = value;
    }
    const b = chosenBase();
    if (b?.resolution && state.dataset.resolution < b.resolution)
      return {
        problem: `The dataset was checked at ${state.dataset.resolution} px; ${b.name} works at ${b.resolution} px: upload it again at ${b.resolution} px or more, or pick another base model.`,
      };
    return { body };
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (state.busy) return;
    const { body, problem: p, field } = collect();
    if (p) {
      showProblem(p, field);
      return;
    }
    showProblem("");
    state.busy = true;
    paint();
    try {
      await start(body);
    } catch (err) {
      const field = /^name\b|model named/.test(err.message) ? "name" : null;
      showProblem(err.message, field);
    } finally {
      state.busy = false;
      paint();
    }
  });
  name.addEventListener("input", () => {
    state.nameTyped = name.value.trim() !== "";
    name.removeAttribute("aria-invalid");
  });
  base.addEventListener("change", () => onBaseChange(chosenBase(), true));
  for (const input of [steps, seed, every]) input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  steps.addEventListener("input", paintCheckpointDefault);
  paintCheckpointDefault();
  paint();

  return {
    setDataset(ds) {
      state.dataset = ds;
      suggestName();
      showProblem("");
      paint();
    },
    /** The models of GET /api/models; the base select keeps its choice, else takes `preferred`, else the default. */
    setModels(answer, preferred = null) {
      const models = (answer.models || []).filter((m) => m.resolution);
      const had = base.value;
      state.models = answer.models || [];
      base.replaceChildren(
        ...models.map((m) => {
          const o = document.createElement("option");
          o.value = m.name;
          o.textContent = `${m.name} · ${m.resolution} px${m.default ? " (default)" : ""}${m.status === "ready" ? "" : ` — ${m.status}`}`;
          return o;
        }),
      );
      const pick = [had, preferred, answer.default].find((n) => n && models.some((m) => m.name === n));
      if (pick) base.value = pick;
      suggestName();
      if (base.value !== had) onBaseChange(chosenBase(), false);
    },
    /** Keep the form from starting another training while `reason` holds (null: it may). */
    setBlocked(reason) {
      state.blocked = reason;
      paint();
    },
    dataset: () => state.dataset,
    baseModel: chosenBase,
  };
}
