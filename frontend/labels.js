// How ids and images are named on screen.

import { el } from "./dom.js";

export function shortId(id) {
  return id ? id.slice(0, 8) : "";
}

export function imageLabel(img) {
  return img.filename || img.name || shortId(img.id);
}

/**
 * <option>s for an image picker: `emptyLabel` first, then every image not failed. `foreign(img)` names the model of
 * an image of another model than the page's (null for the page's own), which its option says.
 */
export function imageOptions(images, emptyLabel, foreign = () => null) {
  const note = (img) => {
    const other = foreign(img);
    const notes = [img.status === "ready" ? null : img.status, other ? `model ${other}` : null].filter(Boolean);
    return notes.length ? ` (${notes.join(", ")})` : "";
  };
  return [
    el("option", { value: "" }, emptyLabel),
    ...images.filter((img) => img.status !== "failed").map((img) => el("option", { value: img.id }, `${imageLabel(img)}${note(img)}`)),
  ];
}

/**
 * What the model's example `i` shows, from its value names: "bus · red wood · 128 deg" (a bare number is named
 * with its attribute: "identity 1"); null when the model does not know them (GET /api/model `example_labels`).
 */
export function exampleLabel(model, i) {
  const labels = model.example_labels?.[i];
  if (!labels) return null;
  const parts = model.attributes
    .filter((a) => labels[a] !== undefined && labels[a] !== "")
    .map((a) => (/^\d+$/.test(labels[a]) ? `${a} ${labels[a]}` : labels[a]));
  return parts.length ? parts.join(" · ") : null;
}
