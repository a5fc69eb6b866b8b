// One training followed to its end: its stage, step / total, steps/s, time left, last checkpoint, the loss curve as
// it grows, the latest sample figure, and Cancel / Resume. A resume is a new job: it is followed instead, and the
// curve goes on from the checkpoint it continues.

import { isTerminal } from "./api.js";
import { part, setProgress } from "./dom.js";
import { watchJob } from "./job-watch.js";
import { mount as mountLossChart } from "./train-loss-chart.js";
import { Pace, formatDuration, mergeLosses } from "./train-loss-series.js";
import { mount as mountStages, stageLabel } from "./train-stages.js";

const RECHECK_CANCEL_MS = 1500;

function stepOf(url) {
  try {
    return new URL(url, location.href).searchParams.get("step");
  } catch {
    return null;
  }
}

/**
 * mount(root, {api, trainApi, showError, onJob, onChange, onSucceeded}) -> {follow(job, opts), attach(id), job()}.
 * The root holds .train-job, ol.stages, <progress>, .job-state, [data-stat=step|rate|eta|checkpoint], svg.loss-chart,
 * figure.sample-figure (img + figcaption), .train-error, [data-action=cancel], [data-action=resume] and .run-problem.
 * `onJob(job)` when another job is followed (a start, a resume, a reload), `onChange(job)` on every report,
 * `onSucceeded(job)` once the followed job succeeded.
 */
export function mount(root, { api, trainApi, showError, onJob = () => {}, onChange = () => {}, onSucceeded = () => {} }) {
  const state = {
    job: null,
    watcher: null,
    series: [],
    from: null, // a resume: the checkpoint step the followed job continues from
    sample: null, // {url, step}: the latest figure, kept across a resume until the new job has one
    cancelling: false,
    gen: 0,
  };
  const pace = new Pace();
  const jobText = part(root, ".train-job");
  const stages = mountStages(part(root, "ol.stages"));
  const bar = part(root, "progress");
  const status = part(root, ".job-state");
  const stat = (name) => part(root, `[data-stat=${name}]`);
  const stats = { step: stat("step"), rate: stat("rate"), eta: stat("eta"), checkpoint: stat("checkpoint") };
  const chart = mountLossChart(part(root, "svg.loss-chart"));
  const sampleFigure = part(root, "figure.sample-figure");
  const sampleImg = part(sampleFigure, "img");
  const sampleCaption = part(sampleFigure, "figcaption");
  const errorText = part(root, ".train-error");
  const cancelButton = part(root, "[data-action=cancel]");
  const resumeButton = part(root, "[data-action=resume]");
  const runProblem = part(root, ".run-problem");

  function problem(text) {
    runProblem.textContent = text || "";
    runProblem.hidden = !text;
  }

  function statusText(job, t) {
    const p = job.progress || {};
    const steps = p.total ? ` · step ${p.done} / ${p.total}` : "";
    if (job.state === "succeeded") return `succeeded: model ${job.model || "?"} is registered`;
    if (job.state === "cancelled") return `cancelled${steps}`;
    if (job.state === "failed") return `failed${steps}`;
    if (state.cancelling) return "cancelling…";
    if (job.state === "queued") return `queued${Number.isInteger(job.queue_position) ? ` (${job.queue_position} ahead)` : ""}`;
    return `${stageLabel(t.stage || "preparing")}${t.stage === "gae" ? steps : ""}`;
  }

  function paint() {
    const job = state.job;
    root.hidden = !job;
    if (!job) return;
    const t = job.training || {};
    const p = job.progress || { done: 0, total: 0 };
    const final = isTerminal(job.state);
    root.dataset.state = job.state;
    root.dataset.stage = t.stage || "";
    root.dataset.jobId = job.id;
    jobText.textContent = `training ${job.id}${t.resume_from ? ` · resumes ${t.resume_from}` : ""}`;
    stages.show(t.stage, job.state);
    setProgress(bar, p.done, p.total);
    status.textContent = statusText(job, t);
    status.dataset.state = state.cancelling && !final ? "cancelling" : job.state;

    stats.step.textContent = p.total ? `${p.done} / ${p.total}` : "–";
    const measured = final ? null : pace.rate();
    const fromEta = t.eta_s > 0 && p.total > p.done ? (p.total - p.done) / t.eta_s : null;
    const rate = measured ?? fromEta;
    stats.rate.textContent = t.stage === "gae" && !final && rate !== null ? rate.toFixed(rate < 10 ? 2 : 1) : "–";
    stats.eta.textContent = !final && t.stage === "gae" && t.eta_s !== null && t.eta_s !== undefined ? formatDuration(t.eta_s) : "–";
    stats.checkpoint.textContent = Number.isInteger(t.checkpoint_step) ? `step ${t.checkpoint_step}` : "none yet";
    stats.checkpoint.dataset.step = Number.isInteger(t.checkpoint_step) ? String(t.checkpoint_step) : "";

    chart.draw(state.series, { total: p.total, checkpoint: t.checkpoint_step, resumedAt: t.resumed_step ?? state.from });

    if (t.sample_url) state.sample = { url: t.sample_url, step: stepOf(t.sample_url) ?? t.checkpoint_step };
    sampleFigure.hidden = !state.sample;
    if (state.sample) {
      if (sampleImg.getAttribute("src") !== state.sample.url) sampleImg.src = state.sample.url;
      const at = state.sample.step ? ` at step ${state.sample.step}` : "";
      sampleImg.alt = `Reconstructions and swaps of held-out images${at}`;
      sampleCaption.textContent = `Reconstructions and attribute swaps of held-out images${at}.`;
      sampleImg.dataset.step = state.sample.step ? String(state.sample.step) : "";
    }

    errorText.hidden = job.state !== "failed";
    errorText.textContent = job.state === "failed" ? `The training failed: ${job.error || "no reason given"}` : "";
    cancelButton.hidden = final;
    cancelButton.disabled = final || state.cancelling;
    resumeButton.hidden = !(job.state === "cancelled" || job.state === "failed");
    onChange(job);
  }

  function update(job) {
    if (!state.job || job.id !== state.job.id) return;
    state.job = job;
    if (isTerminal(job.state)) state.cancelling = false;
    const t = job.training || {};
    state.series = mergeLosses(state.series, t.losses, state.from);
    if (t.stage === "gae" && !isTerminal(job.state)) pace.add(job.progress?.done);
    paint();
  }

  /** Follow `job` (a JobOut of a training); `from`: the checkpoint step a resume continues from (keeps the curve). */
  async function follow(job, { from = null } = {}) {
    state.watcher?.close();
    const gen = ++state.gen;
    if (from === null) {
      state.series = [];
      state.sample = null;
    }
    Object.assign(state, { job, from, cancelling: false, watcher: null });
    pace.reset();
    problem("");
    onJob(job);
    update(job);
    if (isTerminal(job.state)) {
      if (job.state === "succeeded") onSucceeded(job);
      return;
    }
    const watcher = watchJob(job, update);
    state.watcher = watcher;
    let final;
    try {
      final = await watcher.done;
    } catch (err) {
      if (gen === state.gen) showError(err);
      return;
    }
    if (!final || gen !== state.gen) return;
    if (final.state === "succeeded") onSucceeded(final);
  }

  /** Follow the job `id` again (a reload); false when the API does not know it (any more) or it is no training. */
  async function attach(id) {
    let job;
    try {
      job = await api.getJob(id);
    } catch (err) {
      if (err.status === 404) return false;
      throw err;
    }
    if (job.kind !== "train") return false;
    follow(job);
    return true;
  }

  cancelButton.addEventListener("click", async () => {
    const job = state.job;
    if (!job || isTerminal(job.state)) return;
    state.cancelling = true;
    problem("");
    paint();
    try {
      await api.cancelJob(job.id);
    } catch (err) {
      state.cancelling = false;
      paint();
      problem(`Cannot cancel: ${err.message}`);
      return;
    }
    // The stream says so in a moment; if it is slow, ask once more.
    setTimeout(async () => {
      if (state.job?.id !== job.id || isTerminal(state.job.state)) return;
      try {
        update(await api.getJob(job.id));
      } catch {
        /* the stream will tell */
      }
    }, RECHECK_CANCEL_MS);
  });

  resumeButton.addEventListener("click", async () => {
    const old = state.job;
    if (!old) return;
    resumeButton.disabled = true;
    problem("");
    try {
      const job = await trainApi.resumeTraining(old.id);
      const from = old.training?.checkpoint_step ?? null;
      follow(job, { from: Number.isInteger(from) ? from : 0 });
    } catch (err) {
      problem(`Cannot resume: ${err.message}`);
    } finally {
      resumeButton.disabled = false;
    }
  });

  paint();
  return { follow, attach, job: () => state.job };
}
