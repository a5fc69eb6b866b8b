// One "live" job at a time: submitting a new one cancels the stale one, progress comes from the
// SSE stream, and the previous result stays on screen until the new one has arrived.

import { api, isTerminal, watchJob } from "./api.js";
import { setProgress, showError } from "./common.js";

export class JobRunner {
  /**
   * @param submit   async (body) => job   (POST /api/recombine or /api/interpolate)
   * @param els      {progress, state, cancel} elements
   * @param onResult async (job, body) => void, called for a succeeded job that is still current
   */
  constructor({ submit, els, onResult, label = "Render" }) {
    this.submit = submit;
    this.els = els;
    this.onResult = onResult;
    this.label = label;
    this.gen = 0;
    this.current = null; // {id, watcher}
    this.lastKey = null;
    els.cancel?.addEventListener("click", () => this.cancel());
  }

  setState(state, text = state) {
    this.els.state.textContent = text;
    this.els.state.dataset.state = state;
  }

  /** Forget what was last submitted, so the next run() submits even if nothing changed. */
  invalidate() {
    this.lastKey = null;
  }

  async dropCurrent() {
    const cur = this.current;
    this.current = null;
    if (!cur) return;
    cur.watcher.close();
    if (!cur.ended) api.cancelJob(cur.id).catch(() => {}); // stale: nobody wants it any more
  }

  /** Submit `body` unless it is what was submitted last (and `force` is false). */
  async run(body, { force = false } = {}) {
    const key = JSON.stringify(body);
    if (!force && key === this.lastKey) return;
    this.lastKey = key;
    const gen = ++this.gen;
    await this.dropCurrent();
    this.setState("submitting", "submitting…");
    setProgress(this.els.progress, 0, 0);
    this.els.progress.removeAttribute("value"); // indeterminate until the first report

    let job;
    try {
      job = await this.submit(body);
    } catch (err) {
      if (gen !== this.gen) return;
      this.lastKey = null;
      this.setState("error", "error");
      this.els.progress.value = 0;
      showError(err);
      return;
    }
    if (gen !== this.gen) {
      api.cancelJob(job.id).catch(() => {});
      return;
    }
    const entry = { id: job.id, ended: false, watcher: null };
    entry.watcher = watchJob(job.id, (j) => {
      if (gen === this.gen) this.report(j);
    });
    this.current = entry;
    this.els.cancel && (this.els.cancel.disabled = false);
    this.report(job);

    let final;
    try {
      final = await entry.watcher.done;
    } catch (err) {
      if (gen === this.gen) {
        this.setState("error", "error");
        showError(err);
        this.lastKey = null;
      }
      return;
    }
    entry.ended = true;
    if (!final || gen !== this.gen) return;
    this.els.cancel && (this.els.cancel.disabled = true);
    if (final.state === "succeeded") {
      try {
        await this.onResult(final, body);
      } catch (err) {
        if (gen === this.gen) showError(err);
        return;
      }
      if (gen === this.gen) this.report(final);
    } else if (final.state === "failed") {
      // lastKey stays: the same request is not resubmitted by itself (the Render button forces it).
      showError(`${this.label} failed: ${final.error || "unknown error"}`);
    }
  }

  report(job) {
    const p = job.progress || {};
    if (typeof p.done === "number" && typeof p.total === "number" && p.total > 0) setProgress(this.els.progress, p.done, p.total);
    else if (job.state === "succeeded") this.els.progress.value = 1;
    const counts = p.total ? ` ${p.done}/${p.total}` : "";
    this.setState(job.state, isTerminal(job.state) ? job.state : `${job.state}${counts}`);
    this.els.state.dataset.jobId = job.id;
    if (this.els.cancel) this.els.cancel.disabled = isTerminal(job.state);
  }

  /** The user's Cancel: ask the API; the stream then reports the job as cancelled. */
  async cancel() {
    const cur = this.current;
    if (!cur) return;
    this.setState("cancelling", "cancelling…");
    try {
      await api.cancelJob(cur.id);
    } catch (err) {
      showError(err);
      return;
    }
    // If the stream is slow to say so, ask once more.
    setTimeout(async () => {
      if (this.current !== cur || cur.ended) return;
      try {
        const job = await api.getJob(cur.id);
        if (this.current === cur) this.report(job);
      } catch {
        /* the stream will tell */
      }
    }, 1500);
  }
}
