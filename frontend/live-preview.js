// Live preview while a control moves: latest wins. At most one preview request is in flight; a newer
// value replaces the one waiting for it (never a queue), and when the request in flight returns its
// frame is shown if it is still wanted, then the latest waiting value goes out.

/**
 * latestWins(render, {onFrame, onDiscard, onError}) -> {push(value), stop(), busy()}.
 * `render(value)` resolves to a frame (or null: nothing to show); `onFrame(frame, value)` for every frame
 * that is still wanted, `onDiscard(frame)` for one that is not. stop() drops the waiting value and makes the
 * one in flight unwanted.
 */
export function latestWins(render, { onFrame, onDiscard = () => {}, onError = () => {} }) {
  const state = { inFlight: false, next: null, gen: 0 };

  async function pump() {
    if (state.inFlight || state.next === null) return;
    const { value, gen } = state.next;
    state.next = null;
    state.inFlight = true;
    try {
      const frame = await render(value);
      if (frame && gen === state.gen) onFrame(frame, value);
      else if (frame) onDiscard(frame);
    } catch (err) {
      if (gen === state.gen) onError(err);
    } finally {
      state.inFlight = false;
      pump();
    }
  }

  return {
    push(value) {
      state.next = { value, gen: state.gen };
      pump();
    },
    stop() {
      state.gen += 1;
      state.next = null;
    },
    busy: () => state.inFlight,
  };
}

/** A key of this page's own for `supersede`: the server cancels our older preview that has not started. */
export function previewSession() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return `preview-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
