// The result panel: the live result of the edit (debounced, one job at a time), before/after,
// Render, Download and the equivalent curl command.

import { debounce, part, setLinkEnabled } from "./dom.js";
import { mount as mountCompare } from "./compare.js";
import { mount as mountJobProgress } from "./job-progress.js";
import { blocker, curlCommand, recombineBody } from "./request.js";

const RENDER_DEBOUNCE_MS = 350;
const COPY_FEEDBACK_MS = 1500;

/**
 * mount(section, {api, urls, store, apiKey, showError}) -> {update(edit), say(phase, text), destroy()}.
 * The section holds .before-after, .job-row, [data-action=render], a[data-action=download],
 * [data-action=copy-curl] and details.curl > pre. `update(edit)` after every edit.
 */
export function mount(root, { api, urls, store, apiKey, showError }) {
  const state = { edit: null, objectUrl: null, jobId: null, copyLabel: "Copy curl" };
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

  async function showResult(finished) {
    const blob = await api.jobResult(finished.id);
    const url = URL.createObjectURL(blob);
    const probe = new Image();
    probe.src = url;
    await probe.decode(); // keep the previous result on screen until this one is ready
    const old = state.objectUrl;
    state.objectUrl = url;
    state.jobId = finished.id;
    compare.setResult(url, finished.id);
    paint();
    if (old) URL.revokeObjectURL(old);
  }

  function renderNow({ force = false } = {}) {
    if (!state.edit) return;
    const { started } = job.status();
    const why = blocker(state.edit, store);
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
    if (state.edit?.base && job.status().phase === "waiting") scheduleRender();
  });
  paint();

  return {
    update(edit) {
      state.edit = edit;
      paintBase();
      paint();
      scheduleRender();
    },
    say: job.say,
    destroy() {
      scheduleRender.cancel();
      unsubscribe();
      job.destroy();
      if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    },
  };
}
