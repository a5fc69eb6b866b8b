// The gallery: upload (drop, file picker, samples), each image's encoding state and model, draggable cards.

import { DRAG_TYPE, fileDropzone } from "./drop-target.js";
import { el, part } from "./dom.js";
import { guarded } from "./error-banner.js";
import { imageLabel } from "./labels.js";

// Shown until an image is ready: its image.png exists only then (the API answers 409 before). A data: URL,
// so no request; an <img> all the same, so the card keeps its size and background.
const PENDING_THUMB = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E";

/** True when the model flagged the image as unlike its training images (false without a verdict). */
export function outOfDomain(img) {
  return Boolean(img && img.domain && img.domain.in_domain === false);
}

/** The attributes whose z_dis chunk the model does not recognise in the image (the verdict's `chunks`). */
export function unfamiliarChunks(img) {
  return Object.entries((img && img.domain && img.domain.chunks) || {})
    .filter(([, v]) => !v.in_domain)
    .map(([a]) => a);
}

/** Why the image is out of domain: its score above the threshold, and/or the chunks out of range. */
export function domainReason(img) {
  const d = img.domain;
  const why = d.score > d.threshold ? [`score ${d.score.toFixed(2)} > ${d.threshold.toFixed(2)}`] : [];
  const chunks = unfamiliarChunks(img);
  if (chunks.length) why.push(`unfamiliar: ${chunks.join(", ")}`);
  return why.join("; ");
}

/** "640×480 cropped to the centre 480×480, resized to 32×32" (null when the image was neither). */
export function cropText(img) {
  const c = img && img.crop;
  if (!c || (!c.cropped && !c.resized)) return null;
  const [w, h] = c.source_size;
  const side = c.box[2] - c.box[0];
  const parts = [c.cropped ? `${w}×${h} cropped to the centre ${side}×${side}` : `${w}×${h}`];
  if (c.resized) parts.push(`resized to ${c.resolution}×${c.resolution}`);
  return parts.join(", ");
}

// The marks on a ready card: out of the model's domain, and cropped by the preprocessing.
function marks(img) {
  const out = [];
  if (outOfDomain(img)) {
    out.push(
      el(
        "span",
        {
          class: "badge out-of-domain",
          title: `Unlike the images this model was trained on (${domainReason(img)}): its edits are unreliable`,
          dataset: { testid: "domain-mark" },
        },
        "unfamiliar",
      ),
    );
  }
  if (img.crop && img.crop.cropped) {
    out.push(el("span", { class: "badge cropped", title: cropText(img), dataset: { testid: "crop-mark" } }, "cropped"));
  }
  return out;
}

// The model an image is encoded in: on every card; a card of another model than the page's says so.
function modelMark(name, foreign, here) {
  if (!name) return null;
  return el(
    "span",
    {
      class: `badge model${foreign ? " other" : ""}`,
      title: foreign ? `Encoded in model ${name}, not in ${here} (the model this page is on)` : `Encoded in model ${name}`,
      dataset: { testid: "model-mark", model: name },
    },
    name,
  );
}

/**
 * mount(panel, {store, urls, showError, samples, onUse}) -> {setShared(shared), setCardControls(fn), destroy()}.
 * The panel holds .dropzone, input[type=file], [data-action=browse], [data-action=samples], ul.gallery, .count
 * and (optional) .shared-note. `samples()` resolves to the Files the Samples button uploads (the served model's
 * examples). `onUse(id)` (optional) adds a "Base" button to every card. `setShared(true)` shows the note that
 * every visitor sees these images (a service without API keys). `setCardControls(fn)`: `fn(img)` gives the
 * controls a ready image's card shows under its name (the batch page's base / donor ticks).
 */
export function mount(root, { store, urls, showError, samples: sampleFiles, onUse = null }) {
  // Cards are kept per image and rebuilt only when what they show changes, so a poll never
  // replaces the element being dragged.
  const state = { cards: new Map(), uploadingSamples: false, controls: null };
  const list = part(root, "ul.gallery");
  const input = part(root, "input[type=file]");
  const dropzone = part(root, ".dropzone");
  const samples = root.querySelector("[data-action=samples]");
  const count = root.querySelector(".count");
  const sharedNote = root.querySelector(".shared-note");

  fileDropzone(dropzone, input, part(root, "[data-action=browse]"), (files) => store.upload(files));
  const setUploadingSamples = (on) => {
    state.uploadingSamples = on;
    if (samples) samples.disabled = on;
  };
  samples?.addEventListener("click", () =>
    guarded(async () => {
      setUploadingSamples(true);
      try {
        await store.upload(await sampleFiles());
      } finally {
        setUploadingSamples(false);
      }
    }, showError),
  );

  function card(img) {
    const progress = typeof img.progress === "number" && img.status !== "ready" ? ` ${Math.round(img.progress * 100)}%` : "";
    const model = store.modelOf(img);
    const foreign = store.foreignModel(img);
    const title = img.error
      ? `${imageLabel(img)}: ${img.error}`
      : foreign
        ? `${imageLabel(img)} — encoded in model ${foreign}, not in ${store.model}: dropped on a slot, it can be encoded in ${store.model}`
        : `${imageLabel(img)} — drag onto a slot`;
    const node = el(
      "li",
      {
        class: `card status-${img.status}${outOfDomain(img) ? " out-of-domain" : ""}${foreign ? " other-model" : ""}`,
        draggable: "true",
        tabindex: "0",
        title,
        "aria-label": `Image ${imageLabel(img)}, ${img.status}${outOfDomain(img) ? ", unlike the model's training images" : ""}${img.crop?.cropped ? ", cropped" : ""}${foreign ? `, of model ${foreign}, not of this page's model` : ""}`,
        dataset: { testid: "gallery-item", imageId: img.id, status: img.status, model: model || "" },
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
      img.status === "ready"
        ? el("img", { src: urls.image(img), alt: imageLabel(img), draggable: "false", loading: "lazy" })
        : el("img", { src: PENDING_THUMB, alt: "", draggable: "false", dataset: { pending: img.status } }),
      el("span", { class: "card-name" }, imageLabel(img)),
      el("span", { class: `badge ${img.status}`, dataset: { testid: "image-status" } }, img.status + progress),
      modelMark(model, foreign, store.model),
      ...marks(img),
      state.controls && img.status === "ready" ? el("div", { class: "card-controls" }, ...state.controls(img)) : null,
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

  const signature = (img) =>
    `${img.status}|${img.progress}|${img.error}|${imageLabel(img)}|${outOfDomain(img)}|${Boolean(img.crop?.cropped)}|` +
    `${store.modelOf(img)}|${store.foreignModel(img)}`;

  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
    node.scrollIntoView({ block: "nearest" });
  }

  function render(_store, { flash: flashId = null } = {}) {
    const next = [];
    for (const img of store.list) {
      const sig = signature(img);
      let entry = state.cards.get(img.id);
      if (!entry || entry.sig !== sig) {
        const hadFocus = entry && entry.node.matches(":focus-within");
        const node = card(img);
        if (entry) entry.node.replaceWith(node);
        entry = { node, sig };
        state.cards.set(img.id, entry);
        if (hadFocus) node.focus();
      }
      next.push(entry.node);
    }
    for (const id of [...state.cards.keys()]) if (!store.byId.has(id)) state.cards.delete(id);
    const current = [...list.children];
    if (current.length !== next.length || current.some((n, i) => n !== next[i])) list.replaceChildren(...next);
    if (count) count.textContent = `${store.list.length}`;
    list.classList.toggle("empty", store.list.length === 0);
    if (flashId && state.cards.has(flashId)) flash(state.cards.get(flashId).node);
  }

  const unsubscribe = store.on(render);
  render();
  return {
    setShared(shared) {
      if (sharedNote) sharedNote.hidden = !shared;
    },
    setCardControls(fn) {
      state.controls = fn;
      state.cards.clear(); // every card again, with its controls
      render();
    },
    destroy: unsubscribe,
  };
}
