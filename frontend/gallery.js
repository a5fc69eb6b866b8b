// Gallery: upload (drag-and-drop, file picker, samples), encoding status, draggable cards.

import { api, urls } from "./api.js";
import { $, el, guarded, imageLabel, showError } from "./common.js";

export const DRAG_TYPE = "application/x-diffusegae-image";

/** The images the server knows about, newest first; listeners run on every change. */
export class ImageStore {
  constructor() {
    this.list = [];
    this.byId = new Map();
    this.listeners = new Set();
    this.pollTimer = null;
  }

  on(fn) {
    this.listeners.add(fn);
  }

  get(id) {
    return this.byId.get(id);
  }

  ready() {
    return this.list.filter((img) => img.status === "ready");
  }

  set(list) {
    // Keep client-side names (the file name at upload) when the server does not echo them.
    for (const img of list) {
      const old = this.byId.get(img.id);
      if (old && old.filename && !img.filename) img.filename = old.filename;
    }
    // Stable order: images already shown keep their place (a card never jumps away from under the
    // pointer, e.g. when the same bytes are uploaded again); new ones go first, newest first.
    const shown = new Map(this.list.map((img, i) => [img.id, i]));
    const fresh = list.filter((img) => !shown.has(img.id));
    const kept = list.filter((img) => shown.has(img.id)).sort((a, b) => shown.get(a.id) - shown.get(b.id));
    this.list = [...fresh, ...kept];
    this.byId = new Map(this.list.map((img) => [img.id, img]));
    for (const fn of this.listeners) fn(this);
  }

  upsert(img) {
    const old = this.byId.get(img.id);
    const merged = { ...(old || {}), ...img };
    const list = old ? this.list.map((x) => (x.id === img.id ? merged : x)) : [merged, ...this.list];
    this.set(list);
    if (old) this.flash = img.id; // the same image again: point at the card it already has
  }

  async refresh() {
    clearTimeout(this.pollTimer);
    try {
      const list = await api.listImages();
      this.set(list);
    } catch (err) {
      showError(err);
    }
    // Poll while anything is still encoding.
    if (this.list.some((img) => img.status === "queued" || img.status === "encoding")) {
      this.pollTimer = setTimeout(() => this.refresh(), 700);
    }
  }

  /** Upload files one by one; returns the image objects (failed uploads are reported and skipped). */
  async upload(files) {
    const out = [];
    for (const file of files) {
      try {
        const img = await api.uploadImage(file);
        if (!img.filename && file.name) img.filename = file.name;
        this.upsert(img);
        out.push(img);
      } catch (err) {
        showError(`${file.name || "image"}: ${err.message}`);
      }
    }
    this.refresh();
    return out;
  }

  async uploadSamples() {
    const index = await fetch("samples/index.json").then((r) => r.json());
    const files = await Promise.all(
      index.samples.map(async (name) => {
        const blob = await fetch(`samples/${name}`).then((r) => r.blob());
        return new File([blob], name, { type: "image/png" });
      }),
    );
    return this.upload(files);
  }
}

const STATUS_TEXT = { queued: "queued", encoding: "encoding", ready: "ready", failed: "failed" };

/**
 * Render the gallery panel into `root` (which holds the markup from index.html / batch.html).
 * `onUse(id)` is called when a card's "Base" button (or Enter on the card) is used.
 */
export function mountGallery(root, store, { onUse } = {}) {
  const list = $("[data-testid=gallery]", root);
  const input = $("[data-testid=file-input]", root);
  const dropzone = $("[data-testid=dropzone]", root);
  const samples = $("[data-testid=samples-button]", root);
  const count = $("[data-testid=gallery-count]", root);

  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = "";
    await store.upload(files);
  });
  $("[data-testid=upload-button]", root)?.addEventListener("click", () => input.click());
  samples?.addEventListener("click", () =>
    guarded(async () => {
      samples.disabled = true;
      try {
        await store.uploadSamples();
      } finally {
        samples.disabled = false;
      }
    }),
  );

  // Files dragged in from the desktop.
  const hasFiles = (ev) => [...(ev.dataTransfer?.types || [])].includes("Files");
  dropzone.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    dropzone.classList.add("over");
  });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (ev) => {
    dropzone.classList.remove("over");
    const files = [...(ev.dataTransfer?.files || [])];
    if (!files.length) return;
    ev.preventDefault();
    store.upload(files);
  });
  dropzone.addEventListener("keydown", (ev) => {
    if (ev.target === dropzone && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      input.click();
    }
  });

  function card(img) {
    const status = STATUS_TEXT[img.status] || img.status;
    const progress = typeof img.progress === "number" && img.status !== "ready" ? ` ${Math.round(img.progress * 100)}%` : "";
    const node = el(
      "li",
      {
        class: `card status-${img.status}`,
        draggable: "true",
        tabindex: "0",
        title: img.error ? `${imageLabel(img)}: ${img.error}` : `${imageLabel(img)} — drag onto a slot`,
        "aria-label": `Image ${imageLabel(img)}, ${status}`,
        dataset: { testid: "gallery-item", imageId: img.id, status: img.status },
        ondragstart(ev) {
          ev.dataTransfer.setData(DRAG_TYPE, img.id);
          ev.dataTransfer.setData("text/plain", img.id);
          ev.dataTransfer.effectAllowed = "copy";
          node.classList.add("dragging");
        },
        ondragend() {
          node.classList.remove("dragging");
        },
        onkeydown(ev) {
          if (ev.target === node && ev.key === "Enter" && onUse) onUse(img.id);
        },
      },
      el("img", { src: urls.image(img.id), alt: imageLabel(img), draggable: "false", loading: "lazy" }),
      el("span", { class: "card-name" }, imageLabel(img)),
      el("span", { class: `badge ${img.status}`, dataset: { testid: "image-status" } }, status + progress),
    );
    if (onUse) {
      node.append(
        el(
          "button",
          {
            type: "button",
            class: "small",
            disabled: img.status === "failed",
            "aria-label": `Use ${imageLabel(img)} as base`,
            dataset: { testid: "use-as-base" },
            onclick: () => onUse(img.id),
          },
          "Base",
        ),
      );
    }
    return node;
  }

  // Cards are kept per image and rebuilt only when their status changes, so a poll never
  // replaces the element being dragged.
  const nodes = new Map();
  const signature = (img) => `${img.status}|${img.progress}|${img.error}|${imageLabel(img)}`;

  function render() {
    const next = [];
    for (const img of store.list) {
      const sig = signature(img);
      let entry = nodes.get(img.id);
      if (!entry || entry.sig !== sig) {
        const hadFocus = entry && entry.node.contains(document.activeElement);
        const node = card(img);
        if (entry) entry.node.replaceWith(node);
        entry = { node, sig };
        nodes.set(img.id, entry);
        if (hadFocus) node.focus();
      }
      next.push(entry.node);
    }
    for (const id of [...nodes.keys()]) if (!store.byId.has(id)) nodes.delete(id);
    const current = [...list.children];
    if (current.length !== next.length || current.some((n, i) => n !== next[i])) list.replaceChildren(...next);
    if (count) count.textContent = `${store.list.length}`;
    list.classList.toggle("empty", store.list.length === 0);
    if (store.flash && nodes.has(store.flash)) {
      const node = nodes.get(store.flash).node;
      store.flash = null;
      node.classList.remove("flash");
      void node.offsetWidth; // restart the animation
      node.classList.add("flash");
      node.scrollIntoView({ block: "nearest" });
    }
  }

  store.on(render);
  render();
}
