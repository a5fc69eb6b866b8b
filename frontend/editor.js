// The editor: the base slot, one slot per model attribute (donor or value + weight) and the decoding
// options. It keeps the edit; the result and interpolation panels get it through onChange.

import { el, part } from "./dom.js";
import { guarded } from "./error-banner.js";
import { mount as mountAttributeSlot } from "./attribute-slot.js";
import { mount as mountBaseSlot } from "./base-slot.js";
import { mount as mountDecodingOptions } from "./decoding-options.js";
import { mount as mountModelNotice } from "./model-notice.js";
import { valueNames } from "./value-picker.js";

function slotMeta(model, attr, i) {
  const n = (model.values?.[attr] || []).length;
  const size = model.chunk_sizes?.[i];
  return [size ? `chunk ${size}` : null, n ? `${n} values` : null].filter(Boolean).join(" · ");
}

/**
 * mount(section, {model, limits, store, urls, showError, onChange, onPreview}) -> {setBase(id), edit(), destroy()}.
 * The section holds .model-notice, .base-slot, .slots and fieldset.options; `onChange(edit, mode)` after every change
 * (mode "preview" while a weight is dragged, "final" when it is let go or a donor dropped); `onPreview(edit)` while a
 * donor card hovers over an attribute slot (that swap), `onPreview(null)` when it leaves. An image of another model
 * than the page's never enters a slot: the notice says why and offers to encode it in this model. On a model with
 * `value_edits` each slot also offers the attribute's values (GET /api/model `values`) instead of a donor.
 */
export function mount(root, { model, limits, store, urls, showError, onChange, onPreview = () => {} }) {
  // Attribute names come from the model, never hard-coded.
  const state = {
    base: null,
    attributes: Object.fromEntries(model.attributes.map((a) => [a, { donor: null, value: null, weight: 1 }])),
    options: null,
  };

  const edit = () => ({
    base: state.base,
    attributes: Object.fromEntries(Object.entries(state.attributes).map(([a, s]) => [a, { ...s }])),
    options: { ...state.options },
  });
  const changed = (mode) => onChange(edit(), mode);
  const uploadFile = (files) => guarded(async () => (await store.upload(files.slice(0, 1)))[0]?.id, showError);

  // Whether image `id` may go into a slot as `role`; one of another model may not (the notice offers `use` for its
  // encoding in this model).
  const notice = mountModelNotice(part(root, ".model-notice"), { store, showError });
  const acceptAs = (role, use) => (id) => {
    const img = store.get(id);
    if (!store.foreignModel(img)) {
      notice.clear();
      return true;
    }
    notice.explain(img, role, use);
    return false;
  };
  const foreign = (id) => Boolean(store.foreignModel(store.get(id)));

  const acceptBase = acceptAs("base", (id) => base.set(id));
  const base = mountBaseSlot(part(root, ".base-slot"), {
    store,
    urls,
    uploadFile,
    accept: acceptBase,
    onChange(id) {
      state.base = id;
      changed();
    },
  });
  const slotsRoot = part(root, ".slots");
  let hovering = null; // the attribute whose slot a donor card is dragged over
  const slots = model.attributes.map((attr, i) => {
    const node = el("div", { class: "slot", dataset: { attr, testid: `slot-${attr}` } });
    slotsRoot.append(node);
    const mounted = mountAttributeSlot(node, {
      attr,
      meta: slotMeta(model, attr, i),
      limits: limits.weight,
      values: valueNames(model, attr),
      store,
      urls,
      uploadFile,
      accept: acceptAs(`${attr} donor`, (id) => mounted.setDonor(id, "final")),
      onChange(slot, mode) {
        state.attributes[attr] = slot;
        changed(mode);
      },
      onHover(slot) {
        if (slot && foreign(slot.donor)) return; // it cannot go there: nothing to preview
        // Moving from one slot to the next, the next is entered before the last is left: only the slot
        // hovered now may revert.
        if (!slot) {
          if (hovering === attr) {
            hovering = null;
            onPreview(null);
          }
          return;
        }
        hovering = attr;
        const hovered = edit();
        hovered.attributes[attr] = slot;
        onPreview(hovered);
      },
    });
    return mounted;
  });
  const options = mountDecodingOptions(part(root, "fieldset.options"), {
    model,
    limits,
    onChange(value) {
      state.options = value;
      changed();
    },
  });
  state.options = options.value();

  const unsubscribe = store.on(() => {
    base.update();
    for (const slot of slots) slot.update();
  });

  return {
    setBase: (id) => (!id || acceptBase(id) ? base.set(id) : undefined),
    edit,
    destroy() {
      unsubscribe();
      base.destroy();
      for (const slot of slots) slot.destroy();
      slotsRoot.replaceChildren();
    },
  };
}
