// Following one job to its end over the API (no DOM).

import { ApiError, api, isTerminal, withKey } from "./api.js";

/**
 * Follow job `id` until it ends: the SSE stream first, polling GET /api/jobs/{id} if the stream fails.
 * `onUpdate(job)` sees every progress report. Returns {done: Promise<job|null>, close()}; after
 * close() the promise settles with null and no more updates arrive.
 */
export function watchJob(id, onUpdate) {
  let source = null;
  let timer = null;
  let closed = false;
  let settle;
  const done = new Promise((resolve, reject) => {
    settle = { resolve, reject };
  });

  const stop = () => {
    closed = true;
    if (source) source.close();
    source = null;
    clearTimeout(timer);
  };
  const report = (job) => {
    if (!closed) onUpdate(job);
  };
  const finish = async () => {
    if (closed) return;
    stop();
    try {
      const job = await api.getJob(id);
      onUpdate(job);
      settle.resolve(job);
    } catch (err) {
      settle.reject(err);
    }
  };
  const poll = async () => {
    if (closed) return;
    try {
      const job = await api.getJob(id);
      if (closed) return;
      report(job);
      if (isTerminal(job.state)) {
        stop();
        settle.resolve(job);
      } else timer = setTimeout(poll, 500);
    } catch (err) {
      stop();
      settle.reject(err);
    }
  };

  try {
    source = new EventSource(withKey(`/api/jobs/${id}/events`));
    source.addEventListener("progress", (ev) => {
      let job;
      try {
        job = JSON.parse(ev.data);
      } catch {
        return;
      }
      report(job);
      if (isTerminal(job.state)) finish();
    });
    source.addEventListener("end", (ev) => {
      let job = null;
      try {
        job = JSON.parse(ev.data);
      } catch {
        /* an end without the job: ask for it */
      }
      if (job && job.id === id && isTerminal(job.state)) {
        report(job);
        stop();
        settle.resolve(job);
      } else finish();
    });
    source.addEventListener("error", (ev) => {
      if (closed) return;
      source.close();
      source = null;
      if (ev.data) {
        // The server's own error event: {"detail": "..."}.
        let detail = ev.data;
        try {
          detail = JSON.parse(ev.data).detail || detail;
        } catch {
          /* plain text */
        }
        stop();
        settle.reject(new ApiError(0, detail));
      } else poll(); // the connection failed: fall back to polling
    });
  } catch {
    poll();
  }

  return {
    done,
    close() {
      if (closed) return;
      stop();
      settle.resolve(null);
    },
  };
}
