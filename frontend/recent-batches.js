// The batches this browser submitted lately (kept in localStorage), as links.

import { el } from "./dom.js";
import { shortId } from "./labels.js";

const RECENT_KEY = "diffusegae.recentBatches";
const KEEP = 8;

function load(storage) {
  try {
    return JSON.parse(storage.getItem(RECENT_KEY) || "[]");
  } catch {
    return [];
  }
}

/** mount(list, {storage, onPick}) -> {remember(id)}; `onPick(id)` when a link is followed. */
export function mount(root, { storage, onPick }) {
  const state = { ids: load(storage) };

  function paint() {
    root.replaceChildren(
      ...state.ids.map((id) => el("li", {}, el("a", { href: `#${id}`, class: "mono", onclick: () => onPick(id) }, shortId(id)))),
    );
  }

  paint();
  return {
    remember(id) {
      state.ids = [id, ...state.ids.filter((x) => x !== id)].slice(0, KEEP);
      storage.setItem(RECENT_KEY, JSON.stringify(state.ids));
      paint();
    },
  };
}
