// The interpolation strip: frames from the base towards a donor, in one attribute or all of them.

import { el, part } from "./dom.js";
import { mount as mountJobProgress } from "./job-progress.js";
import { imageLabel } from "./labels.js";
import { wholeNumberProblem } from "./model.js";
import { donorsOf } from "./request.js";

const DEFAULT_FRAMES = 6;

/**
 * mount(section, {api, urls, model, limits, store, showError}) -> {update(edit), destroy()}.
 * The section holds select[name=attr], select[name=donor], input[name=frames],
 * [data-action=interpolate], a .job-row and ol.strip. `update(edit)` after every edit.
 */
export function mount(root, { api, urls, model, limits, store, showError }) {
  const { min, max } = limits.frames;
  const state = { attr: "", donor: "", frames: Math.min(max, Math.max(min, DEFAULT_FRAMES)), edit: null, busy: false };
  const attrPicker = part(root, "select[name=attr]");
  const donorPicker = part(root, "select[name=donor]");
  const frames = part(root, "input[name=frames]");
  const strip = part(root, "ol.strip");
  const job = mountJobProgress(part(root, ".job-row"), {
    api,
    label: "Interpolation",
    submit: (body) => api.interpolate(body),
    onResult: showStrip,
    showError,
  });

  function paintDonors() {
    if (state.donor && !store.usable().some((img) => img.id === state.donor)) state.donor = "";
    const slotDonor = state.edit && donorsOf(state.edit).length > 0;
    donorPicker.replaceChildren(
      new Option(slotDonor ? "first slot donor" : "— choose a donor —", ""),
      ...store.usable().map((img) => new Option(imageLabel(img), img.id)), // an edit uses images of the page's model
    );
    donorPicker.value = state.donor;
  }

  function paint() {
    attrPicker.value = state.attr;
    frames.value = String(state.frames);
    if (state.busy) strip.setAttribute("aria-busy", "true");
    else strip.removeAttribute("aria-busy");
  }

  async function showStrip(done, body) {
    const items = Array.from({ length: body.frames }, (_, i) =>
      el(
        "li",
        {},
        el("img", {
          src: urls.frame(done, i),
          alt: `Frame ${i + 1} of ${body.frames}`,
          dataset: { testid: "interp-frame" },
        }),
        el("span", {}, `${(i / (body.frames - 1)).toFixed(2)}`),
      ),
    );
    await Promise.all(items.map((li) => li.firstChild.decode().catch(() => {})));
    strip.replaceChildren(...items);
    strip.dataset.jobId = done.id;
    state.busy = false;
    paint();
  }

  function request() {
    const edit = state.edit;
    if (!edit?.base) throw new Error("Pick a base image first.");
    const donor = state.donor || (state.attr && edit.attributes[state.attr].donor) || donorsOf(edit)[0];
    if (!donor) throw new Error("Choose a donor to interpolate towards (or put one in a slot).");
    const problem = wholeNumberProblem("Frames", state.frames, limits.frames) || edit.options.problem;
    if (problem) throw new Error(problem);
    const { x_T, seed, steps, sampler } = edit.options;
    return { base: edit.base, donor, attributes: state.attr ? [state.attr] : null, frames: state.frames, x_T, seed, steps, sampler };
  }

  function run() {
    let body;
    try {
      body = request();
    } catch (err) {
      showError(err);
      return;
    }
    state.busy = true;
    paint();
    job.run(body, { force: true });
  }

  attrPicker.replaceChildren(new Option("all attributes", ""), ...model.attributes.map((a) => new Option(a, a)));
  attrPicker.addEventListener("change", (ev) => (state.attr = ev.target.value));
  donorPicker.addEventListener("change", (ev) => (state.donor = ev.target.value));
  frames.min = String(min);
  frames.max = String(max);
  frames.addEventListener("input", (ev) => (state.frames = Number(ev.target.value)));
  part(root, "[data-action=interpolate]").addEventListener("click", run);
  const unsubscribe = store.on(paintDonors);
  paintDonors();
  paint();

  return {
    update(edit) {
      state.edit = edit;
      paintDonors();
    },
    destroy() {
      unsubscribe();
      job.destroy();
    },
  };
}
