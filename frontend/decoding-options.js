// Decoding options: x_T (the base's inferred one, or random from a seed), steps and sampler.

import { part } from "./dom.js";
import { wholeNumberProblem } from "./model.js";

/**
 * mount(fieldset, {model, limits, onChange}) -> {value()}. The fieldset holds the input[name=xT]
 * radios, input[name=seed], [data-action=reseed], input[name=steps] and select[name=sampler].
 * value() is {x_T, seed, steps, sampler, problem}; problem says what is wrong with the fields (or null).
 */
export function mount(root, { model, limits, onChange }) {
  const state = { x_T: "inferred", seed: 0, steps: null, sampler: null };
  const radios = [...root.querySelectorAll("input[name=xT]")];
  const seed = part(root, "input[name=seed]");
  const reseed = part(root, "[data-action=reseed]");
  const steps = part(root, "input[name=steps]");
  const sampler = part(root, "select[name=sampler]");

  const seedProblem = () => (Number.isInteger(state.seed) && state.seed >= 0 ? null : "Seed must be a non-negative whole number.");
  const stepsProblem = () => (state.steps === null ? null : wholeNumberProblem("Steps", state.steps, limits.steps));

  function value() {
    const { x_T, seed: s, steps: n, sampler: name } = state;
    return { x_T, seed: s, steps: n, sampler: name, problem: stepsProblem() || seedProblem() };
  }

  function paint() {
    for (const radio of radios) radio.checked = radio.value === state.x_T;
    seed.disabled = reseed.disabled = state.x_T !== "random";
    seed.setAttribute("aria-invalid", String(Boolean(seedProblem())));
    steps.setAttribute("aria-invalid", String(Boolean(stepsProblem())));
  }

  function set(patch) {
    Object.assign(state, patch);
    paint();
    onChange(value());
  }

  steps.min = String(limits.steps.min);
  steps.max = String(limits.steps.max);
  steps.placeholder = `${model.default_steps ?? "default"}`;
  sampler.replaceChildren(
    new Option(`default (${model.default_sampler || "model"})`, ""),
    ...(model.samplers || []).map((s) => new Option(s, s)),
  );
  seed.value = String(state.seed);

  for (const radio of radios) radio.addEventListener("change", (ev) => set({ x_T: ev.target.value }));
  reseed.addEventListener("click", () => {
    const s = Math.floor(Math.random() * 2 ** 31);
    seed.value = String(s);
    set({ seed: s });
  });
  seed.addEventListener("input", (ev) => set({ seed: Number(ev.target.value || 0) }));
  // Half-typed steps (e.g. "1" on the way to "100") are a problem the field shows, not an error.
  steps.addEventListener("input", (ev) => set({ steps: ev.target.value.trim() ? Number(ev.target.value) : null }));
  sampler.addEventListener("input", (ev) => set({ sampler: ev.target.value || null }));

  paint();
  return { value };
}
