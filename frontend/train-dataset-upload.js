// Uploading a dataset: a zip or tar of images with labels.csv, dropped or picked, checked by the API at a resolution
// (POST /api/datasets). A refusal is shown in words where the upload is: the API's detail names the rows or files.

import { fileDropzone } from "./drop-target.js";
import { part } from "./dom.js";

const ARCHIVE = /\.(zip|tar|tgz|tar\.gz|tar\.bz2|tar\.xz)$/i;

/**
 * mount(root, {trainApi, onDataset, showError}) -> {setDefaultResolution(px)}. The root holds .dropzone,
 * input[type=file], [data-action=browse], input[name=resolution], .upload-state and .dataset-problem.
 * `onDataset(dataset)` gets every dataset the API stored. The resolution follows `setDefaultResolution` (the base
 * model's) until the person types one of their own.
 */
export function mount(root, { trainApi, onDataset, showError }) {
  const state = { busy: false, typed: false };
  const dropzone = part(root, ".dropzone");
  const input = part(root, "input[type=file]");
  const browse = part(root, "[data-action=browse]");
  const resolution = part(root, "input[name=resolution]");
  const status = part(root, ".upload-state");
  const problem = part(root, ".dataset-problem");

  function say(text, kind = "") {
    status.textContent = text;
    status.dataset.state = kind;
  }

  function refuse(text) {
    problem.textContent = text;
    problem.hidden = !text;
  }

  async function upload(files) {
    if (state.busy || !files.length) return;
    const file = files[0];
    refuse("");
    if (files.length > 1) {
      refuse(`Drop one archive at a time (got ${files.length} files): a .zip or .tar of the images with labels.csv.`);
      return;
    }
    const px = Number(resolution.value);
    if (!Number.isInteger(px) || px < 8 || px > 1024) {
      resolution.setAttribute("aria-invalid", "true");
      refuse("The resolution must be a whole number of pixels from 8 to 1024.");
      return;
    }
    resolution.removeAttribute("aria-invalid");
    state.busy = true;
    browse.disabled = true;
    dropzone.setAttribute("aria-busy", "true");
    say(`Uploading and checking ${file.name}…`, "busy");
    try {
      const ds = await trainApi.uploadDataset(file, px);
      say(`${ds.name}: ${ds.images} images checked at ${ds.resolution} px.`, "done");
      onDataset(ds);
    } catch (err) {
      say(`${file.name} was not stored.`, "refused");
      const hint = ARCHIVE.test(file.name) ? "" : " (a dataset is a .zip or .tar archive)";
      if (err.status >= 400 && err.status < 500) refuse(`${file.name} was refused${hint}: ${err.message}`);
      else {
        refuse(`${file.name} could not be uploaded: ${err.message}`);
        showError(err);
      }
    } finally {
      state.busy = false;
      browse.disabled = false;
      dropzone.removeAttribute("aria-busy");
    }
  }

  fileDropzone(dropzone, input, browse, upload);
  resolution.addEventListener("input", () => {
    state.typed = true;
    resolution.removeAttribute("aria-invalid");
  });

  return {
    setDefaultResolution(px) {
      if (state.typed || !px) return;
      resolution.value = String(px);
    },
  };
}
