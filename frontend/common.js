// Page chrome shared by the editor and the batch page: error banner, API key field, health badge.

import { api, getApiKey, setApiKey } from "./api.js";

export const $ = (sel, root = document) => root.querySelector(sel);

/** Create an element: el("button", {class: "x", onclick: fn, dataset: {testid: "y"}}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k in node && typeof v !== "string") node[k] = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export function shortId(id) {
  return id ? id.slice(0, 8) : "";
}

export function imageLabel(img) {
  return img.filename || img.name || shortId(img.id);
}

// ---- error banner ----------------------------------------------------------------------------

export function showError(err) {
  const banner = $("#error-banner");
  if (!banner) return;
  if (err && err.name === "AbortError") return;
  const msg = typeof err === "string" ? err : err && err.message ? err.message : String(err);
  $("#error-message", banner).textContent = msg;
  banner.hidden = false;
  console.warn("[diffusegae]", msg);
}

export function clearError() {
  const banner = $("#error-banner");
  if (banner) banner.hidden = true;
}

/** Run an async action; its error (if any) goes to the banner. */
export async function guarded(fn) {
  try {
    return await fn();
  } catch (err) {
    showError(err);
    return undefined;
  }
}

// ---- chrome ----------------------------------------------------------------------------------

export function initChrome() {
  $("#error-dismiss")?.addEventListener("click", clearError);

  const keyInput = $("#api-key");
  if (keyInput) {
    keyInput.value = getApiKey();
    // Images and jobs belong to a key: start over with the new one.
    keyInput.addEventListener("change", () => {
      setApiKey(keyInput.value);
      location.reload();
    });
  }
  refreshHealth();
  setInterval(refreshHealth, 15000);
}

/**
 * GET /api/model, retried while the service answers 503 (no worker has loaded the model yet).
 * `onWait(message)` is told why it is waiting.
 */
export async function loadModel(onWait = () => {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      const model = await api.model();
      if (attempt > 0) clearError();
      return model;
    } catch (err) {
      if (err.status !== 503 && err.status !== 0) throw err;
      if (attempt === 0) showError(err);
      onWait(err.message);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

export async function refreshHealth() {
  const badge = $("#health");
  if (!badge) return;
  try {
    const h = await api.health();
    const workers = Number(h.workers ?? 0);
    const ok = h.status === "ok" && workers > 0;
    badge.className = `health ${ok ? "ok" : "warn"}`;
    const redis = h.redis === true || h.redis === "ok" ? "up" : "down";
    badge.textContent = ok ? `online · ${workers} worker${workers === 1 ? "" : "s"}` : `degraded · redis ${redis} · ${workers} workers`;
    badge.title = JSON.stringify(h);
  } catch (err) {
    badge.className = "health bad";
    badge.textContent = "offline";
    badge.title = err.message;
  }
}

export function setProgress(bar, done, total) {
  const frac = total > 0 ? Math.max(0, Math.min(1, done / total)) : 0;
  bar.value = frac;
  bar.setAttribute("aria-valuetext", total > 0 ? `${done} of ${total}` : "waiting");
}

export function debounce(fn, ms) {
  let t = null;
  const wrapped = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(t);
  return wrapped;
}
