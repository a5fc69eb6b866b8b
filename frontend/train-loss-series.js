// A training's loss series ([step, loss] pairs, `training.losses`) kept whole across a resume, and its pace.

/**
 * The series to draw once a training goes on in `next` (a job's losses) after `previous` (what was drawn),
 * resumed from the checkpoint at step `from` (null: not a resume). A resumed job's losses already hold the old
 * points up to the checkpoint, but only once its worker started: until then the old points up to `from` stay.
 * The old run's points after the checkpoint are dropped (those steps are trained again).
 */
export function mergeLosses(previous, next, from = null) {
  const fresh = (next || []).filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]));
  if (from === null || from === undefined) return fresh;
  const firstNew = fresh.length ? fresh[0][0] : Infinity;
  const kept = (previous || []).filter(([step]) => step <= from && step < firstNew);
  return [...kept, ...fresh];
}

const WINDOW_MS = 15_000; // steps/s over the last this long

/** Steps per second from progress reports over time (the loss series has no times). */
export class Pace {
  constructor(now = () => performance.now()) {
    this.now = now;
    this.samples = []; // [ms, step]
  }

  reset() {
    this.samples = [];
  }

  /** Note that `step` steps were done by now. */
  add(step) {
    if (!Number.isFinite(step)) return;
    const t = this.now();
    const last = this.samples[this.samples.length - 1];
    if (last && step < last[1]) this.samples = []; // started over (a resume from an earlier checkpoint)
    this.samples.push([t, step]);
    while (this.samples.length > 2 && t - this.samples[0][0] > WINDOW_MS) this.samples.shift();
  }

  /** Steps per second, or null while too little is known. */
  rate() {
    if (this.samples.length < 2) return null;
    const [t0, s0] = this.samples[0];
    const [t1, s1] = this.samples[this.samples.length - 1];
    return t1 - t0 >= 500 ? ((s1 - s0) * 1000) / (t1 - t0) : null;
  }
}

/** "1 h 02 min", "3 min 05 s", "42 s". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}
