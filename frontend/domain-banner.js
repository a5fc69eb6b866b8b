// The domain banner over the result: when the base or a donor is unlike the images the model was trained on
// (the API's `domain` verdict), it says so plainly; its details say which image, why (the scores) and what the
// model knows, with its example images. It lies over the result image, so showing it moves nothing.

import { el, part } from "./dom.js";
import { domainReason, outOfDomain } from "./gallery.js";
import { imageLabel } from "./labels.js";

/** The model's training data in a few words: its description up to the first "(", ":", ";" or ",". */
export function trainedOn(description) {
  return (description || "").split(/\s*[(:;,]/)[0].trim();
}

/**
 * mount(banner, {model, store, urls}) -> {update(edit), destroy()}. The banner holds .domain-message and
 * details with .domain-why, .domain-knows and .examples; it is hidden while every image of the edit is in the
 * model's domain (or has no verdict).
 */
export function mount(root, { model, store, urls }) {
  const state = { edit: null };
  const message = part(root, ".domain-message");
  const why = part(root, ".domain-why");
  const knows = part(root, ".domain-knows");
  const examples = part(root, ".examples");
  const data = trainedOn(model.description);
  knows.textContent = model.description ? `It was trained on ${model.description}.` : "";
  knows.hidden = !model.description;
  examples.replaceChildren(
    ...(model.examples || []).slice(0, 4).map((url, i) =>
      el("img", { src: urls.example(url), alt: `Example ${i + 1} of what the model knows`, dataset: { testid: "domain-example" } }),
    ),
  );
  examples.hidden = examples.children.length === 0;

  /** The edit's images the model does not know: [{img, role: "base" | "donor", attributes}]. */
  function unfamiliar(edit) {
    if (!edit || !edit.base) return [];
    const roles = new Map([[edit.base, { role: "base", attributes: [] }]]);
    for (const [attr, a] of Object.entries(edit.attributes || {})) {
      if (!a.donor) continue;
      if (!roles.has(a.donor)) roles.set(a.donor, { role: "donor", attributes: [] });
      roles.get(a.donor).attributes.push(attr);
    }
    return [...roles]
      .map(([id, r]) => ({ img: store.get(id), ...r }))
      .filter(({ img }) => outOfDomain(img));
  }

  function sentence(bad) {
    const what = data ? ` (${data})` : "";
    if (bad.some((b) => b.role === "base")) {
      return `This picture doesn't look like what the model was trained on${what}; edits may look wrong.`;
    }
    const attrs = bad.flatMap((b) => b.attributes);
    const donor = bad.length === 1 ? `The ${attrs.join(" and ")} donor doesn't` : "Some donor pictures don't";
    return `${donor} look like what the model was trained on${what}; this edit may look wrong.`;
  }

  function detail({ img, role, attributes }) {
    const which = role === "base" ? "Base" : `Donor (${attributes.join(", ")})`;
    return `${which} ${imageLabel(img)}: unlike the images this model was trained on (${domainReason(img)}); its edits are unreliable.`;
  }

  function paint() {
    const bad = unfamiliar(state.edit);
    root.hidden = bad.length === 0;
    root.dataset.images = bad.map((b) => b.img.id).join(" ");
    if (!bad.length) return;
    message.textContent = sentence(bad);
    why.replaceChildren(...bad.map((b) => el("li", {}, detail(b))));
    root.title = bad.map(detail).join("\n");
  }

  const unsubscribe = store.on(paint);
  paint();
  return {
    update(edit) {
      state.edit = edit;
      paint();
    },
    destroy: unsubscribe,
  };
}
