// Dragging images around: gallery cards carry their id under DRAG_TYPE; slots accept them (and
// files from the desktop).

export const DRAG_TYPE = "application/x-diffusegae-image";

const IMAGE_ID = /^[0-9a-zA-Z_-]+$/;

// The card being dragged on this page: a drop target cannot read the drag's data before the drop, so the id
// is read once, when the drag starts (after the card's own dragstart handler set it).
let dragged = null;
document.addEventListener("dragstart", (ev) => {
  const id = (ev.dataTransfer?.getData(DRAG_TYPE) || "").trim();
  dragged = IMAGE_ID.test(id) ? id : null;
});
document.addEventListener("dragend", () => {
  dragged = null;
});

/**
 * Make `node` an HTML5 drop target: `onImage(id)` for a dropped card, `onFiles(files)` for files;
 * `onHover(id)` when a card of this page is dragged over it and `onHover(null)` when it leaves without a drop.
 * Returns a function that removes the listeners.
 */
export function dropTarget(node, { onImage, onFiles, onHover = () => {} }) {
  let hovering = null;
  const hover = (id) => {
    if (id === hovering) return;
    hovering = id;
    onHover(id);
  };
  const accepts = (ev) => {
    const types = [...(ev.dataTransfer?.types || [])];
    return types.includes(DRAG_TYPE) || types.includes("text/plain") || types.includes("Files");
  };
  const listeners = {
    dragenter(ev) {
      if (!accepts(ev)) return;
      ev.preventDefault();
      node.classList.add("over");
      if (dragged) hover(dragged);
    },
    dragover(ev) {
      if (!accepts(ev)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
      node.classList.add("over");
      if (dragged) hover(dragged);
    },
    dragleave(ev) {
      if (node.contains(ev.relatedTarget)) return;
      node.classList.remove("over");
      hover(null);
    },
    drop(ev) {
      ev.preventDefault();
      node.classList.remove("over");
      hovering = null; // the drop itself decides now: no revert
      const files = [...(ev.dataTransfer?.files || [])];
      if (files.length) return onFiles(files);
      const id = (ev.dataTransfer.getData(DRAG_TYPE) || ev.dataTransfer.getData("text/plain")).trim();
      if (IMAGE_ID.test(id)) onImage(id);
    },
  };
  for (const [type, fn] of Object.entries(listeners)) node.addEventListener(type, fn);
  return () => {
    for (const [type, fn] of Object.entries(listeners)) node.removeEventListener(type, fn);
  };
}

/**
 * A drop zone for files from the desktop with its file picker: `onFiles(files)` for files dropped on `zone`, chosen
 * with `input` (opened by `browse`, or Enter / Space on the zone itself).
 */
export function fileDropzone(zone, input, browse, onFiles) {
  input.addEventListener("change", () => {
    const files = [...input.files];
    input.value = "";
    onFiles(files);
  });
  browse.addEventListener("click", () => input.click());
  const hasFiles = (ev) => [...(ev.dataTransfer?.types || [])].includes("Files");
  zone.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    zone.classList.remove("over");
    const files = [...(ev.dataTransfer?.files || [])];
    if (!files.length) return;
    ev.preventDefault();
    onFiles(files);
  });
  zone.addEventListener("keydown", (ev) => {
    if (ev.target === zone && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      input.click();
    }
  });
}
