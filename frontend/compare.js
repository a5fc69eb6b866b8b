// Before/after: the result over the base, cut at a split the slider moves.

import { part } from "./dom.js";

/**
 * mount(root, {}) -> {setBase(url), setResult(url, jobId, kind)}. The root holds .compare (with
 * img.compare-base, img.compare-result, .compare-empty) and input[name=split]. kind "final" (a job's result:
 * data-job-id) or "preview" (a live-preview frame: data-preview-job, and no data-job-id).
 */
export function mount(root) {
  const state = { baseUrl: null, resultUrl: null, jobId: null, kind: "final", split: 100 };
  const frame = part(root, ".compare");
  const baseImg = part(frame, "img.compare-base");
  const resultImg = part(frame, "img.compare-result");
  const empty = part(frame, ".compare-empty");
  const slider = part(root, "input[name=split]");

  function paint() {
    frame.style.setProperty("--split", `${state.split}%`);
    baseImg.hidden = !state.baseUrl;
    if (state.baseUrl) baseImg.src = state.baseUrl;
    resultImg.hidden = !state.resultUrl;
    empty.hidden = Boolean(state.resultUrl);
    if (state.resultUrl && resultImg.src !== state.resultUrl) resultImg.src = state.resultUrl;
    resultImg.dataset.kind = state.kind;
    if (state.kind === "preview") {
      delete resultImg.dataset.jobId;
      resultImg.dataset.previewJob = state.jobId || "";
    } else {
      delete resultImg.dataset.previewJob;
      if (state.jobId) resultImg.dataset.jobId = state.jobId;
    }
  }

  function set(patch) {
    Object.assign(state, patch);
    paint();
  }

  slider.value = String(state.split);
  slider.addEventListener("input", (ev) => set({ split: Number(ev.target.value) }));
  paint();
  return {
    setBase: (url) => set({ baseUrl: url }),
    setResult: (url, jobId, kind = "final") => set({ resultUrl: url, jobId, kind }),
  };
}
