// How ids and images are named on screen.

import { el } from "./dom.js";

export function shortId(id) {
  return id ? id.slice(0, 8) : "";
}

export function imageLabel(img) {
  return img.filename || img.name || shortId(img.id);
}

/** <option>s for an image picker: `emptyLabel` first, then every image not failed. */
export function imageOptions(images, emptyLabel) {
  return [
    el("option", { value: "" }, emptyLabel),
    ...images
      .filter((img) => img.status !== "failed")
      .map((img) => el("option", { value: img.id }, `${imageLabel(img)}${img.status === "ready" ? "" : ` (${img.status})`}`)),
  ];
}
