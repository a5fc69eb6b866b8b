// The error banner: shows the API's `detail` (or any error's message) until dismissed.

import { part } from "./dom.js";

/** mount(banner) -> {show(err), clear()}; the banner holds .error-message and a [data-action=dismiss] button. */
export function mount(root) {
  const state = { message: null };
  const text = part(root, ".error-message");

  function paint() {
    text.textContent = state.message ?? "";
    root.hidden = state.message === null;
  }

  function show(err) {
    if (err && err.name === "AbortError") return;
    state.message = typeof err === "string" ? err : err && err.message ? err.message : String(err);
    console.warn("[diffusegae]", state.message);
    paint();
  }

  function clear() {
    state.message = null;
    paint();
  }

  part(root, "[data-action=dismiss]").addEventListener("click", clear);
  paint();
  return { show, clear };
}

/** Run an async action; its error (if any) goes to `report`. */
export async function guarded(fn, report) {
  try {
    return await fn();
  } catch (err) {
    report(err);
    return undefined;
  }
}
