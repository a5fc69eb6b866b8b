// One attribute's value picker: a <select> "or a value…" over the attribute's value names (GET /api/model
// `values`, in the model's order), for models that can set an attribute to a value without a donor image
// (`value_edits`). Choosing one makes the slot take that value's prototype chunk instead of a donor's.

import { el } from "./dom.js";

/** The value names the page may offer for `attr` (the model's order), or null: the model cannot set values. */
export function valueNames(model, attr) {
  const names = model.value_edits ? model.values?.[attr] || [] : [];
  return names.length ? names : null;
}

/**
 * mount({attr, names, onPick}) -> {node, set(value)}.
 * `node` is the <select> (its first option, "or a value…", is no value); `onPick(name)` when one is chosen,
 * `onPick(null)` when the first option is; `set(value)` shows the slot's value (null: none).
 */
export function mount({ attr, names, onPick }) {
  const node = el(
    "select",
    {
      class: "value-picker",
      name: `value-${attr}`,
      "aria-label": `${attr} value`,
      title: `Set ${attr} to one of the model's values, without a donor image`,
      dataset: { testid: `value-${attr}` },
      onchange: (ev) => onPick(ev.target.value || null),
    },
    el("option", { value: "" }, "or a value…"),
    ...names.map((name) => el("option", { value: name }, name)),
  );
  return {
    node,
    set(value) {
      node.value = value || "";
    },
  };
}
