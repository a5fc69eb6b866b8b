// GET /api/model: the attributes, samplers and the limits every control is bounded by.

import { exampleLabel } from "./labels.js";

/**
 * The model description, retried while the service answers 503 (no worker has loaded the model
 * yet). `onWait(err)` is told why it is waiting; `onReady()` runs once it has the model after waiting.
 */
export async function loadModel(api, { onWait = () => {}, onReady = () => {} } = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      const model = await api.model();
      if (!model.limits) throw new Error("the API's /api/model sent no limits (an older server?)");
      if (attempt > 0) onReady();
      return model;
    } catch (err) {
      if (err.status !== 503 && err.status !== 0) throw err;
      onWait(err, attempt);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** The API's limits as {min, max} pairs: {weight, steps, frames}. */
export function limitsOf(model) {
  return Object.fromEntries(Object.entries(model.limits).map(([k, [min, max]]) => [k, { min, max }]));
}

/** Why `value` is not a whole number in `range` (null when it is). */
export function wholeNumberProblem(name, value, { min, max }) {
  return Number.isInteger(value) && value >= min && value <= max ? null : `${name} must be a whole number from ${min} to ${max}.`;
}

/**
 * The served model's example images as Files: what the Samples button uploads. Each is named after the values it
 * shows ("bus · red wood · 128 deg"), so the samples can be told apart; one whose values are unknown keeps its
 * file name.
 */
export async function exampleFiles(model, urls) {
  if (!model.examples?.length) throw new Error(`the model ${model.name} has no example images`);
  return Promise.all(
    model.examples.map(async (url, i) => {
      const r = await fetch(urls.example(url));
      if (!r.ok) throw new Error(`example image ${i + 1} of the model: HTTP ${r.status}`);
      const name = exampleLabel(model, i) ?? `${model.name}-example-${i + 1}.png`;
      return new File([await r.blob()], name, { type: "image/png" });
    }),
  );
}
