// The top bar: the model picker, health badge (polled) and the API key field.

import { part } from "./dom.js";
import { withModel } from "./model.js";
import { mount as mountModelPicker } from "./model-picker.js";

const HEALTH_EVERY_MS = 15000;

/**
 * mount(header, {api, urls, apiKey: {get, set}, model, onKeyChange, onHealth, onModels, showError}) -> {setModel(model), destroy()}.
 * The header holds details.model-picker, nav links, .health and input[name=api-key]. `model` is the model the URL
 * names (null: the default); the nav links keep it. Images and jobs belong to a key, so `onKeyChange` usually starts
 * the page over. `onHealth(health)` gets every answer of GET /api/health (its `api_keys` says whether the service has
 * keys at all); `onModels({models, default})` every answer of GET /api/models.
 */
export function mount(root, { api, urls, apiKey, model = null, onKeyChange, onHealth = () => {}, onModels, showError }) {
  const state = { model: null, health: null, healthError: null, timer: null };
  const picker = mountModelPicker(part(root, "details.model-picker"), { api, urls, current: model, onModels, showError });
  const badge = part(root, ".health");
  const key = part(root, "input[name=api-key]");
  // The other page opens on the same model.
  if (model) for (const a of root.querySelectorAll("nav a")) a.setAttribute("href", withModel(a.getAttribute("href"), model));

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
      picker.setStatuses(state.health.models);
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
      if (model?.name) picker.setCurrent(model.name);
    },
    destroy() {
      clearInterval(state.timer);
    },
  };
}
