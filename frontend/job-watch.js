// Following one job to its end over the API (no DOM).

import { ApiError, api, isTerminal, urls } from "./api.js";

const MAX_RECONNECTS = 3; // stream drops in a row (no event between) before falling back to polling

/**
 * Follow `job` (an answer of the API: its id and events_url) until it ends: the SSE stream first,
 * polling GET /api/jobs/{id} if the stream keeps failing. `onUpdate(job)` sees every progress report.
 * Returns {done: Promise<job|null>, close()}; after close() the promise settles with null and no more
 * updates arrive. A dropped stream is opened again with the events_url of a fresh GET of the job: with
 * API keys that URL is signed and short-lived, so a reconnect must not reuse the first one.
 */
export function watchJob(job, onUpdate) {
  const id = job.id;
  let source = null;
  let timer = null;
  let closed = false;
  let reconnects = 0;
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
  const report = (j) => {
    if (!closed) onUpdate(j);
  };
  const finish = async () => {
    if (closed) return;
    stop();
    try {
      const j = await api.getJob(id);
      onUpdate(j);
      settle.resolve(j);
    } catch (err) {
      settle.reject(err);
    }
  };
  const poll = async () => {
    if (closed) return;
    try {
      const j = await api.getJob(id);
      if (closed) return;
      report(j);
      if (isTerminal(j.state)) {
        stop();
        settle.resolve(j);
      } else timer = setTimeout(poll, 500);
    } catch (err) {
      stop();
      settle.reject(err);
    }
  };
  // The connection failed or dropped (an expired signed URL fails like that too): fresh job, fresh URL.
  const reopen = async () => {
    if (closed) return;
    if (++reconnects > MAX_RECONNECTS) {
      poll();
      return;
    }
    let j;
    try {
      j = await api.getJob(id);
    } catch (err) {
      stop();
      settle.reject(err);
      return;
    }
    if (closed) return;
    report(j);
    if (isTerminal(j.state)) {
      stop();
      settle.resolve(j);
    } else open(urls.events(j));
  };

  function open(url) {
    try {
      source = new EventSource(url);
    } catch {
      poll();
      return;
    }
    source.addEventListener("progress", (ev) => {
      let j;
      try {
        j = JSON.parse(ev.data);
      } catch {
        return;
      }
      reconnects = 0;
      report(j);
      if (isTerminal(j.state)) finish();
    });
    source.addEventListener("end", (ev) => {
      let j = null;
      try {
        j = JSON.parse(ev.data);
      } catch {
        /* an end without the job: ask for it */
      }
      if (j && j.id === id && isTerminal(j.state)) {
        report(j);
        stop();
        settle.resolve(j);
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
      } else reopen();
    });
  }

  open(urls.events(job));

  return {
    done,
    close() {
      if (closed) return;
      stop();
      settle.resolve(null);
    },
  };
}
