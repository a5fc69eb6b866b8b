// GET /api/model: the attributes, samplers and the limits every control is bounded by, of the model the page is
// on (the URL's ?model=<name>; without it, the default model).

import { exampleLabel } from "./labels.js";

/** The model the URL names (`?model=toys-32`), or null: the default model. */
export function modelParam(search = location.search) {
  return new URLSearchParams(search).get("model") || null;
}

/** `href` (a page of this site) with `?model=<name>`, the rest of its query kept (not its #fragment). */
export function withModel(href, name) {
  const url = new URL(href, location.href);
  if (name) url.searchParams.set("model", name);
  else url.searchParams.delete("model");
  return `${url.pathname}${url.search}`;
}

/**
 * The description of the model `name` (null: the default model), retried while the service answers 503 (no live
 * worker serves it yet). `onWait(err)` is told why it is waiting; `onReady()` runs once it has the model after waiting.
 */
export async function loadModel(api, { name = null, onWait = () => {}, onReady = () => {} } = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      const model = await api.model(name);
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
