// The top bar: model name, health badge (polled) and the API key field.

import { part } from "./dom.js";

const HEALTH_EVERY_MS = 15000;

/**
 * mount(header, {api, apiKey: {get, set}, onKeyChange, onHealth}) -> {setModel(model), destroy()}.
 * Images and jobs belong to a key, so `onKeyChange` usually starts the page over. `onHealth(health)` gets every
 * answer of GET /api/health (its `api_keys` says whether the service has keys at all).
 */
export function mount(root, { api, apiKey, onKeyChange, onHealth = () => {} }) {
  const state = { model: null, health: null, healthError: null, timer: null };
  const name = part(root, ".model-name");
  const badge = part(root, ".health");
  const key = part(root, "input[name=api-key]");

  function paintHealth() {
    if (state.healthError) {
      badge.className = "health bad";
      badge.textContent = "offline";
      badge.title = state.healthError;
      return;
    }
    const h = state.health;
    if (!h) return;
    const workers = Number(h.workers ?? 0);
    const ok = h.status === "ok" && workers > 0;
    badge.className = `health ${ok ? "ok" : "warn"}`;
    badge.textContent = ok
      ? `online · ${workers} worker${workers === 1 ? "" : "s"}`
      : `degraded · redis ${h.redis ? "up" : "down"} · ${workers} workers`;
    const m = h.model;
    const model = m ? `model ${m.name}${m.device ? ` on ${m.device}` : ""}${m.runtime ? ` (${m.runtime})` : ""}` : null;
    badge.title = [h.detail, h.model_error, model].filter(Boolean).join("; ");
    if (typeof h.api_keys === "boolean") key.placeholder = h.api_keys ? "required" : "not needed";
  }

  async function refreshHealth() {
    try {
      state.health = await api.health();
      state.healthError = null;
      onHealth(state.health);
    } catch (err) {
      state.healthError = err.message;
    }
    paintHealth();
  }

  key.value = apiKey.get();
  key.addEventListener("change", (ev) => {
    apiKey.set(ev.target.value);
    onKeyChange();
  });
  refreshHealth();
  state.timer = setInterval(refreshHealth, HEALTH_EVERY_MS);

  return {
    setModel(model) {
      state.model = model;
      name.textContent = model?.name ? `model: ${model.name}` : "";
    },
    destroy() {
      clearInterval(state.timer);
    },
  };
}
