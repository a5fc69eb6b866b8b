// The images the server knows about (newest first), shared by the gallery, the editor and the batch
// page. Listeners get (store, {flash}) on every change; `flash` names an image uploaded again.
// Every image is encoded in one model; the page is on one of them (uploads go there, edits use only its images).

import { expiresAt } from "./api.js";

const POLL_MS = 700;
const RESIGN_MARGIN_MS = 30_000; // signed image URLs are fetched again this long before they expire
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ImageStore {
  /**
   * @param api the API client; @param onError where failed uploads and refreshes are reported;
   * @param model the name of the model the page is on (null: the default model, until its name is known)
   */
  constructor({ api, onError, model = null }) {
    this.api = api;
    this.onError = onError;
    this.model = model;
    this.defaultModel = null; // the deployment's default model: that of the images that name none
    this.list = [];
    this.byId = new Map();
    this.listeners = new Set();
    this.pollTimer = null;
  }

  /** Subscribe; returns the unsubscribe function. */
  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get(id) {
    return this.byId.get(id);
  }

  ready() {
    return this.list.filter((img) => img.status === "ready");
  }

  /** The ready images of the page's model: what an edit or a batch can use. */
  usable() {
    return this.ready().filter((img) => !this.foreignModel(img));
  }

  /** Set the page's model and/or the default model's name ({model, defaultModel}); the listeners repaint. */
  setModels({ model = this.model, defaultModel = this.defaultModel } = {}) {
    this.model = model;
    this.defaultModel = defaultModel;
    for (const fn of this.listeners) fn(this, { flash: null });
  }

  /** The name of the model `img` is encoded in (null while that is not known). */
  modelOf(img) {
    return (img && img.model) || this.defaultModel;
  }

  /** The model `img` is encoded in when it is not the page's model, else null (also while either is not known). */
  foreignModel(img) {
    const name = this.modelOf(img);
    return name && this.model && name !== this.model ? name : null;
  }

  set(list, { flash = null } = {}) {
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
    for (const fn of this.listeners) fn(this, { flash });
  }

  upsert(img) {
    const old = this.byId.get(img.id);
    const merged = { ...(old || {}), ...img };
    const list = old ? this.list.map((x) => (x.id === img.id ? merged : x)) : [merged, ...this.list];
    this.set(list, { flash: old ? img.id : null }); // the same image again: point at the card it already has
  }

  async refresh() {
    clearTimeout(this.pollTimer);
    try {
      this.set(await this.api.listImages());
    } catch (err) {
      this.onError(err);
    }
    // Poll while anything is still encoding; else, with signed URLs, get fresh ones before they expire
    // (cards drawn later, lazy thumbnails and new slots load them).
    if (this.list.some((img) => img.status === "queued" || img.status === "encoding")) {
      this.pollTimer = setTimeout(() => this.refresh(), POLL_MS);
    } else {
      const soonest = Math.min(...this.list.map((img) => expiresAt(img.url)));
      if (Number.isFinite(soonest)) {
        const wait = Math.min(MAX_TIMER_MS, Math.max(POLL_MS, soonest - Date.now() - RESIGN_MARGIN_MS));
        this.pollTimer = setTimeout(() => this.refresh(), wait);
      }
    }
  }

  /** Upload files one by one; returns the image objects (failed uploads are reported and skipped). */
  async upload(files) {
    const out = [];
    for (const file of files) {
      try {
        const img = await this.api.uploadImage(file, this.model);
        if (!img.filename && file.name) img.filename = file.name;
        this.upsert(img);
        out.push(img);
      } catch (err) {
        this.onError(`${file.name || "image"}: ${err.message}`);
      }
    }
    this.refresh();
    return out;
  }

  /** Encode the picture of image `id` in the model `model` (default: the page's); resolves to the new image. */
  async encode(id, model = this.model) {
    const img = await this.api.encodeImage(id, model);
    const old = this.byId.get(id);
    if (!img.filename && old?.filename) img.filename = old.filename;
    this.upsert(img);
    this.refresh();
    return img;
  }
}
