// Dragging images around: gallery cards carry their id under DRAG_TYPE; slots accept them (and
// files from the desktop).

export const DRAG_TYPE = "application/x-diffusegae-image";

const IMAGE_ID = /^[0-9a-zA-Z_-]+$/;

/**
 * Make `node` an HTML5 drop target: `onImage(id)` for a dropped card, `onFiles(files)` for files.
 * Returns a function that removes the listeners.
 */
export function dropTarget(node, { onImage, onFiles }) {
  const accepts = (ev) => {
    const types = [...(ev.dataTransfer?.types || [])];
    return types.includes(DRAG_TYPE) || types.includes("text/plain") || types.includes("Files");
  };
  const listeners = {
    dragenter(ev) {
      if (!accepts(ev)) return;
      ev.preventDefault();
      node.classList.add("over");
    },
    dragover(ev) {
      if (!accepts(ev)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
      node.classList.add("over");
    },
    dragleave(ev) {
      if (!node.contains(ev.relatedTarget)) node.classList.remove("over");
    },
    drop(ev) {
      ev.preventDefault();
      node.classList.remove("over");
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
