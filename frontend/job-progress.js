// One "live" job at a time with its progress bar, state text and Cancel button: submitting a new
// job cancels the stale one, progress comes from the job's SSE stream.

import { isTerminal, urls } from "./api.js";
import { el, part, setProgress } from "./dom.js";
import { watchJob } from "./job-watch.js";

const RECHECK_CANCEL_MS = 1500;

/**
 * mount(row, {api, submit, onResult, showError, label}) -> {run(body, {force}), say(phase, text), status(), cancel(), destroy()}.
 * The row holds a <progress>, a .job-state and optionally a [data-action=cancel] button.
 * `submit(body)` posts the job; `onResult(job, body)` runs for a succeeded job that is still current.
 */
export function mount(root, { api, submit, onResult, showError, label = "Render" }) {
  const state = {
    phase: "idle",
    text: "idle",
    jobId: null,
    bar: { done: 0, total: 0 }, // null: indeterminate
    cancellable: false,
    gen: 0, // bumped by every run(); older runs see they are stale
    current: null, // {id, ended, watcher}
    lastKey: null, // the body last submitted
    lastJob: null, // the job last reported, shown again after a say() when nothing new is submitted
  };
  const bar = part(root, "progress");
  const status = part(root, ".job-state");
  // A long render's current clean-image estimate (x0_hat): the stream names the latest by its URL (steps >= 50).
  const x0 = el("img", { class: "x0-preview", alt: "", hidden: true, dataset: { testid: "x0-preview" } });
  x0.addEventListener("error", () => (x0.hidden = true)); // gone meanwhile (the job ended): the result follows
  bar.after(x0);
  const cancelButton = root.querySelector("[data-action=cancel]");

  function paint() {
    status.textContent = state.text;
    status.dataset.state = state.phase;
    if (state.jobId) status.dataset.jobId = state.jobId;
    if (state.bar) setProgress(bar, state.bar.done, state.bar.total);
    else bar.removeAttribute("value");
    if (cancelButton) cancelButton.disabled = !state.cancellable;
  }

  function set(patch) {
    Object.assign(state, patch);
    paint();
  }

  function report(job) {
    const p = job.progress || {};
    const counts = p.total ? ` ${p.done}/${p.total}` : "";
    let barNow = state.bar;
    if (typeof p.done === "number" && p.total > 0) barNow = { done: p.done, total: p.total };
    else if (job.state === "succeeded") barNow = { done: 1, total: 1 };
    state.lastJob = job;
    const x0Url = urls.x0(job);
    x0.hidden = !x0Url;
    if (x0Url) {
      if (x0.getAttribute("src") !== x0Url) x0.src = x0Url;
      x0.alt = `the render at step ${job.x0_step} of ${job.steps}: its current estimate`;
      x0.dataset.step = String(job.x0_step);
    }
    set({
      phase: job.state,
      text: isTerminal(job.state) ? job.state : `${job.state}${counts}`,
      jobId: job.id,
      bar: barNow,
      cancellable: !isTerminal(job.state),
    });
  }

  function dropCurrent() {
    const cur = state.current;
    state.current = null;
    if (!cur) return;
    cur.watcher.close();
    if (!cur.ended) api.cancelJob(cur.id).catch(() => {}); // stale: nobody wants it any more
  }

  /** Submit `body` unless it is what was submitted last (and `force` is false). */
  async function run(body, { force = false } = {}) {
    const key = JSON.stringify(body);
    if (!force && key === state.lastKey) {
      if (state.lastJob && state.phase !== state.lastJob.state) report(state.lastJob);
      return;
    }
    state.lastKey = key;
    const gen = ++state.gen;
    dropCurrent();
    x0.hidden = true;
    set({ phase: "submitting", text: "submitting…", bar: null });

    let job;
    try {
      job = await submit(body);
    } catch (err) {
      if (gen !== state.gen) return;
      set({ phase: "error", text: "error", bar: { done: 0, total: 0 }, lastKey: null });
      showError(err);
      return;
    }
    if (gen !== state.gen) {
      api.cancelJob(job.id).catch(() => {});
      return;
    }
    const entry = { id: job.id, ended: false, watcher: null };
    entry.watcher = watchJob(job, (j) => {
      if (gen === state.gen) report(j);
    });
    state.current = entry;
    report(job);

    let final;
    try {
      final = await entry.watcher.done;
    } catch (err) {
      if (gen === state.gen) {
        set({ phase: "error", text: "error", lastKey: null });
        showError(err);
      }
      return;
    }
    entry.ended = true;
    if (!final || gen !== state.gen) return;
    set({ cancellable: false });
    if (final.state === "succeeded") {
      try {
        await onResult(final, body);
      } catch (err) {
        if (gen === state.gen) showError(err);
        return;
      }
      if (gen === state.gen) report(final);
    } else if (final.state === "failed") {
      // lastKey stays: the same request is not resubmitted by itself (forcing it is the caller's call).
      showError(`${label} failed: ${final.error || "unknown error"}`);
    }
  }

  /** The user's Cancel: ask the API; the stream then reports the job as cancelled. */
  async function cancel() {
    const cur = state.current;
    if (!cur) return;
    set({ phase: "cancelling", text: "cancelling…" });
    try {
      await api.cancelJob(cur.id);
    } catch (err) {
      showError(err);
      return;
    }
    // If the stream is slow to say so, ask once more.
    setTimeout(async () => {
      if (state.current !== cur || cur.ended) return;
      try {
        const job = await api.getJob(cur.id);
        if (state.current === cur) report(job);
      } catch {
        /* the stream will tell */
      }
    }, RECHECK_CANCEL_MS);
  }

  cancelButton?.addEventListener("click", cancel);
  paint();

  return {
    run,
    cancel,
    /** Show a phase of our own, e.g. ("waiting", "pick a base image"). */
    say(phase, text = phase) {
      set({ phase, text });
    },
    /** {phase, started}: started is true once a job has been submitted. */
    status: () => ({ phase: state.phase, started: state.current !== null }),
    destroy() {
      state.gen += 1;
      dropCurrent();
      cancelButton?.removeEventListener("click", cancel);
    },
  };
}
