"""The sampler's progress callback for a running batch: progress out to the records, cancellation in."""

from __future__ import annotations

import logging
import threading

from core.records import RUNNING, Records

log = logging.getLogger("diffusegae.worker")


class Cancelled(Exception):
    """Every job of the running sampler batch was cancelled: stop at this step."""


class StepReporter:
    """The sampler's progress callback. Records progress and watches for cancellation on a side
    thread, every `interval` seconds, so a sampler step never waits for Redis; once every job of
    the batch is cancelled, the next step raises `Cancelled`."""

    def __init__(self, records: Records, keys: list[str], *, cancellable: bool, interval: float = 0.05) -> None:
        self.records, self.keys, self.cancellable, self.interval = records, keys, cancellable, interval
        self.latest: tuple[int, int] | None = None
        self._written: tuple[int, int] | None = None
        self._cancelled, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    def __call__(self, done: int, total: int) -> None:
        self.latest = (done, total)
        if self._cancelled.is_set():
            raise Cancelled

    def __enter__(self) -> StepReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            self._flush()  # the last step's numbers
        except Exception as e:
            log.warning("progress update failed: %s", e)

    def _loop(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                self._flush()
                failing = False
            except Exception as e:  # Redis hiccup: the sampler carries on, the next tick retries
                if not failing:
                    log.warning("progress update failed (retrying quietly): %s", e)
                failing = True

    def _flush(self) -> None:
        latest = self.latest
        if latest is not None and latest != self._written:
            states = self.records.progress(self.keys, *latest)
            self._written = latest
        elif self.cancellable:
            states = self.records.states(self.keys)
        else:
            return
        if self.cancellable and all(st != RUNNING for st in states):
            self._cancelled.set()
