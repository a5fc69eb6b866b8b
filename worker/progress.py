"""The sampler's progress callback for a running batch: progress (and x0 previews) out to the records, cancellation in."""

from __future__ import annotations

import base64
import logging
import threading
import time

import torch

from core.records import RUNNING, Records
from diffusegae.data.images import to_image
from worker.tensors import png_bytes

log = logging.getLogger("diffusegae.worker")


class Cancelled(Exception):
    """Every job of the running sampler batch was cancelled: stop at this step."""


class StepReporter:
    """The sampler's progress callback. Records progress and watches for cancellation on a side
    thread, every `interval` seconds, so a sampler step never waits for Redis; once every job of
    the batch is cancelled, the next step raises `Cancelled`.

    With `x0_rows` (each key's first row in the sampler batch), `x0` is the decoder's x0 callback: every
    `x0_interval` seconds the latest clean-image estimate of each job's row goes into its record as a PNG data URL
    (`x0_preview`, `x0_step`), announced like progress, so that a long render shows what it is becoming."""

    def __init__(self, records: Records, keys: list[str], *, cancellable: bool, interval: float = 0.05,
                 x0_rows: list[int] | None = None, x0_interval: float = 0.25) -> None:
        self.records, self.keys, self.cancellable, self.interval = records, keys, cancellable, interval
        self.latest: tuple[int, int] | None = None
        self._written: tuple[int, int] | None = None
        self.x0_rows, self.x0_interval = x0_rows, x0_interval
        self.latest_x0: tuple[int, torch.Tensor] | None = None  # (step, x0_hat (B, 3, R, R))
        self._x0_written, self._x0_at = 0, 0.0
        self._cancelled, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    def __call__(self, done: int, total: int) -> None:
        self.latest = (done, total)
        if self._cancelled.is_set():
            raise Cancelled

    def x0(self, done: int, x0_hat: torch.Tensor) -> None:
        """The decoder's x0 callback: keep the latest estimate (the side thread encodes it); a new tensor each step."""
        self.latest_x0 = (done, x0_hat)

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

    def _flush_x0(self) -> None:
        latest = self.latest_x0
        if not self.x0_rows or latest is None or latest[0] == self._x0_written:
            return
        if time.monotonic() - self._x0_at < self.x0_interval:
            return
        step, x0_hat = latest
        for key, row in zip(self.keys, self.x0_rows):
            png = png_bytes(to_image(x0_hat[row].detach().float().cpu().clamp(-1, 1)))
            url = "data:image/png;base64," + base64.b64encode(png).decode()
            self.records.announce(key, x0_preview=url, x0_step=step)
        self._x0_written, self._x0_at = step, time.monotonic()

    def _flush(self) -> None:
        self._flush_x0()
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
