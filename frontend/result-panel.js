// The result panel: the live result of the edit (debounced, one job at a time), live previews while a
// control is dragged (latest wins), before/after, Render, Download and the equivalent curl command.

import { debounce, part, setLinkEnabled } from "./dom.js";
import { mount as mountCompare } from "./compare.js";
import { mount as mountJobProgress } from "./job-progress.js";
import { latestWins, previewSession } from "./live-preview.js";
import { blocker, curlCommand, recombineBody } from "./request.js";

const RENDER_DEBOUNCE_MS = 350;
const COPY_FEEDBACK_MS = 1500;

/**
 * mount(section, {api, urls, store, apiKey, showError}) -> {update(edit, mode), preview(edit), revert(), say(phase, text), destroy()}.
 * The section holds .before-after, .job-row, [data-action=render], a[data-action=download],
 * [data-action=copy-curl] and details.curl > pre. `update(edit, mode)` after every edit: mode "preview" shows
 * quick previews of it (a weight being dragged), "final" renders it at once (let go, dropped), else debounced.
 * `preview(edit)` previews an edit that is not (yet) the editor's (a donor hovering over a slot); `revert()`
 * shows the last result again.
 */
export function mount(root, { api, urls, store, apiKey, showError }) {
  const state = {
    edit: null,
    objectUrl: null,
    jobId: null,
    resultKey: null, // the body whose result is shown (or was, before a preview replaced it)
    previewUrl: null, // the preview frame on screen, if one is
    blocked: false, // the edit waits for an image (e.g. a donor still encoding): rendered once the store says it may
    copyLabel: "Copy curl",
  };
  const download = part(root, "a[data-action=download]");
  const copyButton = part(root, "[data-action=copy-curl]");
  const curlBox = part(root, "details.curl");
  const curlText = part(curlBox, "pre");
  const compare = mountCompare(part(root, ".before-after"));
  const job = mountJobProgress(part(root, ".job-row"), {
    api,
    submit: (body) => api.recombine(body),
    onResult: showResult,
    showError,
  });

  const curl = () =>
    state.edit ? curlCommand(state.edit, { origin: location.origin, apiKey: apiKey.get() }) : "# pick a base image";

  function paint() {
    curlText.textContent = curl();
    copyButton.textContent = state.copyLabel;
    setLinkEnabled(download, Boolean(state.objectUrl));
    if (state.objectUrl) {
      download.href = state.objectUrl;
      download.download = `diffusegae-${state.jobId.slice(0, 8)}.png`;
    }
  }

  async function showResult(finished, body) {
    const blob = await api.jobResult(finished.id);
    const url = URL.createObjectURL(blob);
    const probe = new Image();
    probe.src = url;
    await probe.decode(); // keep the previous result on screen until this one is ready
    const old = state.objectUrl;
    state.objectUrl = url;
    state.jobId = finished.id;
    state.resultKey = JSON.stringify(body);
    compare.setResult(url, finished.id);
    dropPreviewFrame();
    paint();
    if (old) URL.revokeObjectURL(old);
  }

  // --- live previews: few steps, the interactive lane, latest wins; the server drops our older queued one ---
  const session = previewSession();
  const previews = latestWins(
    async (body) => {
      const frame = await api.recombinePreview({ ...body, steps: null, preview: true, supersede: session });
      if (!frame) return null; // not done in time: the next value goes out
      const url = URL.createObjectURL(frame.blob);
      try {
        const probe = new Image();
        probe.src = url;
        await probe.decode();
      } catch (err) {
        URL.revokeObjectURL(url);
        throw err;
      }
      return { url, jobId: frame.jobId };
    },
    {
      onFrame(frame) {
        const old = state.previewUrl;
        state.previewUrl = frame.url;
        compare.setResult(frame.url, frame.jobId, "preview");
        if (old) URL.revokeObjectURL(old);
      },
      onDiscard: (frame) => URL.revokeObjectURL(frame.url),
      onError: () => {}, // a preview that fails is skipped; the final render reports errors
    },
  );

  function dropPreviewFrame() {
    if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
    state.previewUrl = null;
  }

  function preview(edit) {
    if (blocker(edit, store)) return;
    let body;
    try {
      body = recombineBody(edit);
    } catch {
      return; // half-typed options: the final render says what is wrong
    }
    previews.push(body);
  }

  /** Stop previewing and show the last result again. */
  function revert() {
    previews.stop();
    if (!state.previewUrl) return;
    compare.setResult(state.objectUrl, state.jobId);
    dropPreviewFrame();
  }

  function renderNow({ force = false, final = false } = {}) {
    if (!state.edit) return;
    const { started } = job.status();
    const why = blocker(state.edit, store);
    state.blocked = Boolean(why);
    if (why) {
      if (!started) job.say("waiting", why);
      return;
    }
    let body;
    try {
      body = recombineBody(state.edit);
    } catch (err) {
      // Half-typed options wait quietly; the field says what is wrong.
      if (!started || force) job.say("waiting", err.message);
      if (force) showError(err);
      return;
    }
    if (final && !force && JSON.stringify(body) === state.resultKey) return revert(); // back where it was
    job.run(body, { force });
  }
  const scheduleRender = debounce(renderNow, RENDER_DEBOUNCE_MS);

  async function copyCurl() {
    try {
      await navigator.clipboard.writeText(curl());
      state.copyLabel = "Copied ✓";
    } catch {
      // No clipboard permission: open the request so it can be selected by hand.
      state.copyLabel = "Shown below";
      curlBox.open = true;
    }
    paint();
    setTimeout(() => {
      state.copyLabel = "Copy curl";
      paint();
    }, COPY_FEEDBACK_MS);
  }

  part(root, "[data-action=render]").addEventListener("click", () => {
    scheduleRender.cancel();
    renderNow({ force: true });
  });
  copyButton.addEventListener("click", copyCurl);
  function paintBase() {
    const img = state.edit?.base ? store.get(state.edit.base) : null;
    compare.setBase(img?.status === "ready" ? urls.image(img) : null); // image.png exists once encoded
  }

  // An image the edit was waiting for may be ready now (and the store's URLs may be fresh ones).
  const unsubscribe = store.on(() => {
    paintBase();
    if (state.edit?.base && (state.blocked || job.status().phase === "waiting")) scheduleRender();
  });
  paint();

  return {
    update(edit, mode) {
      state.edit = edit;
      paintBase();
      paint();
      if (mode === "preview") {
        scheduleRender.cancel(); // the release renders it
        return preview(edit);
      }
      if (mode === "final") {
        previews.stop(); // a preview still in flight is not shown over the final render
        scheduleRender.cancel();
        return renderNow({ final: true });
      }
      scheduleRender();
    },
    preview,
    revert,
    say: job.say,
    destroy() {
      previews.stop();
      dropPreviewFrame();
      scheduleRender.cancel();
      unsubscribe();
      job.destroy();
      if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    },
  };
}
