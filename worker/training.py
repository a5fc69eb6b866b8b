"""A training job on a claimed unit: an uploaded dataset -> a GAE on a base model's autoencoder -> a registered model.

The dataset's images and labels.csv come from the store into a temporary folder; diffusegae.training.quick
writes a whole model folder there (GAE, manifest, domain check, value prototypes); the registry puts it into the
store under the job's name, so every worker serves it within a heartbeat. Progress is the GAE's steps
(worker.progress.StepReporter: cancelling the job stops it at the next step); the job closes with the model's name.

Every `checkpoint_every` steps the GAE's state goes to the store (trainings/<job id>/gae_state.pt, the record's
`checkpoint_step` says which). A training whose worker died is redelivered to another (the claim protocol) and
continues from its own last checkpoint; one started with `resume_from` (POST /api/trainings/{id}/resume after a
cancel or a failure) continues from that training's. Either way the loss series goes on from where it was.
Each checkpoint also renders a sample figure (reconstructions and swaps of a few of the dataset's images) into the
store (trainings/<job id>/sample.png; `sample_step`). A finished training's checkpoint is deleted: its model is
registered.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from core.models import free_version
from core.records import FAILED, SUCCEEDED, Records
from core.specs import TrainSpec, parse_train_spec
from core.store import Store
from diffusegae.data.dataset import LabeledImages
from diffusegae.data.folder import load_folder
from diffusegae.editing import read_info
from diffusegae.registry import ModelRegistry
from diffusegae.training.quick import BUDGET_GAE_SHARE, QuickGAE, gae_on_base, steps_for_budget
from worker.progress import Cancelled, StepReporter
from worker.tensors import png_bytes

log = logging.getLogger("diffusegae.worker")

SERIES_EVERY_S, SERIES_POINTS = 1.0, 200


class LossSeries:
    """The GAE's loss for the job's JSON: one point per SERIES_EVERY_S of training (at most SERIES_POINTS, thinned by
    halves when full), written to the record's `losses` field as [[step, loss], ...]."""

    def __init__(self, records: Records, key: str, points: list[list[float]] | None = None) -> None:
        self.records, self.key = records, key
        self.points: list[list[float]] = points or []
        self._at = 0.0

    def add(self, step: int, loss: float) -> None:
        now = time.monotonic()
        if now - self._at < SERIES_EVERY_S:
            return
        self._at = now
        self.points.append([step, round(float(loss), 6)])
        if len(self.points) > SERIES_POINTS:
            self.points = self.points[::2]
        self.flush()

    def flush(self) -> None:
        self.records.set_fields(self.key, losses=json.dumps(self.points))


class TrainingError(Exception):
    """A training that cannot go on, with the reason in words (the job's error as it is)."""


def run_training(records: Records, store: Store, registry: ModelRegistry, key: str) -> None:
    """Run the training of the claimed job `key` and close its record (succeeded with `model`, failed, cancelled)."""
    spec = parse_train_spec(records.fields(key, "spec")["spec"])
    facts = store.dataset(spec.dataset)
    if facts is None:
        records.finish(key, FAILED, f"dataset {spec.dataset} is gone (deleted?)")
        return
    if spec.name in registry.models() and not spec.versioned:
        records.finish(key, FAILED, f"a model named {spec.name!r} was registered meanwhile; train under another name")
        return
    with tempfile.TemporaryDirectory(prefix="dgae-train-") as tmp:
        base = registry.local(spec.base_model)
        data = _fetch_dataset(store, spec.dataset, Path(tmp) / "data", read_info(base).resolution)
        cfg = QuickGAE(steps=spec.steps, seed=spec.seed, save_every=spec.checkpoint_every, chunk_sizes=spec.chunk_sizes)
        cfg = dataclasses.replace(cfg, steps=_planned_steps(records, key, spec, base, data, cfg))
        resume_from, step, points = _checkpoint(records, store, key, spec.resume_from, Path(tmp) / "resume")
        log.info("%s: a GAE for dataset %s (%d images) on %s, %d steps%s", key, spec.dataset, len(data),
                 spec.base_model, cfg.steps, f", from the checkpoint at step {step}" if resume_from else "")
        if resume_from:
            records.announce(key, resumed_step=step, checkpoint_step=step)
        follow = _Follow(records, store, key, cfg.steps, LossSeries(records, key, points))
        try:
            with StepReporter(records, [key], cancellable=True, interval=0.5) as follow.report:
                out = gae_on_base(base, data, Path(tmp) / "model", spec.name, cfg,
                                  description=f"trained on dataset {facts.get('name', spec.dataset)}",
                                  on_step=follow.step, on_stage=follow.stage, log=lambda m: log.info("%s: %s", key, m),
                                  resume_from=resume_from, on_checkpoint=follow.checkpoint, on_sample=follow.sample)
            follow.losses.flush()
        except Cancelled:
            log.info("%s: cancelled (its last checkpoint stays in the store)", key)
            return
        except (FloatingPointError, MemoryError, RuntimeError) as e:
            reason = _reason(e, follow.stage_now)
            if reason is e:
                raise
            raise reason from e
        records.announce(key, stage="registering")
        name = spec.name
        if spec.versioned and name in registry.models():  # another training of the dataset registered it meanwhile
            name = free_version(re.sub(r"-v\d+$", "", name), lambda n: n in registry.models()) or name
        registry.add(out, name)
    records.finish(key, SUCCEEDED, model=name, stage="done")
    store.drop_training_state(records.id_of(key), "gae")  # nothing to resume; the sample figure stays with the job


def _fetch_dataset(store: Store, dataset_id: str, folder: Path, resolution: int) -> LabeledImages:
    """The stored dataset's images and labels.csv into `folder`, loaded at `resolution`."""
    (folder / "images").mkdir(parents=True)
    for blob in store.blobs.keys(f"datasets/{dataset_id}/images/"):
        target = folder / "images" / blob.split("/images/", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(store.blobs.get(blob))
    (folder / "labels.csv").write_bytes(store.dataset_file(dataset_id, "labels.csv") or b"")
    try:
        return load_folder(folder / "images", folder / "labels.csv", resolution)
    except (ValueError, OSError) as e:
        raise TrainingError(f"the dataset cannot be read: {e}") from e


class _Follow:
    """What a running training tells its job: stage, steps and losses, checkpoints and sample figures (into the
    store; the record says the step of each)."""

    def __init__(self, records: Records, store: Store, key: str, steps: int, losses: LossSeries) -> None:
        self.records, self.store, self.key, self.steps, self.losses = records, store, key, steps, losses
        self.job_id = records.id_of(key)
        self.stage_now = "preparing"
        self.report: StepReporter | None = None

    def stage(self, name: str) -> None:
        self.stage_now = name
        self.records.announce(self.key, stage=name)

    def step(self, done: int, logs: dict[str, float]) -> None:
        self.report(done, self.steps)
        self.losses.add(done, logs["loss"])

    def checkpoint(self, done: int, state: Path) -> None:
        self.store.put_training_state(self.job_id, "gae", state.read_bytes())
        self.records.announce(self.key, checkpoint_step=done)

    def sample(self, done: int, figure: Image.Image) -> None:
        self.store.put_training_sample(self.job_id, png_bytes(figure))
        self.records.announce(self.key, sample_step=done)


def _reason(e: Exception, stage: str) -> Exception:
    """A training's failure in words (TrainingError), or `e` itself when it is none of those we can explain."""
    if isinstance(e, FloatingPointError):  # the loss went NaN or infinite (run_loop says at which step)
        return TrainingError(str(e))
    if isinstance(e, MemoryError) or "out of memory" in str(e).lower():
        return TrainingError(f"out of memory in the {stage} stage{f': {e}' if str(e) else ''}: free memory on the "
                             "training worker's machine, or resume it on another (POST /api/trainings/{id}/resume)")
    return e


def _planned_steps(records: Records, key: str, spec: TrainSpec, base: Path, data: LabeledImages,
                   cfg: QuickGAE) -> int:
    """The GAE's steps: the spec's, or with a time budget those that fit it at the pace measured here, planned once
    (a redelivered training keeps its plan: the record's `total`)."""
    if not spec.budget_s:
        return spec.steps
    planned = int(records.fields(key, "total")["total"] or 0)
    if not planned:
        planned = steps_for_budget(base, data, spec.budget_s, cfg)
        log.info("%s: %d GAE steps fit %.0f%% of the %.0f s budget here", key, planned, 100 * BUDGET_GAE_SHARE,
                 spec.budget_s)
        records.progress([key], 0, planned)
    return planned


def _checkpoint(records: Records, store: Store, key: str, resume_from: str,
                where: Path) -> tuple[Path | None, int, list[list[float]]]:
    """The checkpoint a training continues from: its own (it was redelivered after its worker died), else the one of
    the training it resumes -> (its state file under `where`, its step, the loss series up to it); (None, 0, []) for
    a fresh start."""
    for source in (records.id_of(key), resume_from):
        if not source or (state := store.training_state(source, "gae")) is None:
            continue
        where.mkdir(parents=True, exist_ok=True)
        path = where / "gae_state.pt"
        path.write_bytes(state)
        step = int(torch.load(path, map_location="cpu", weights_only=True)["step"])
        raw = records.fields(records.job_key(source), "losses")["losses"]
        points = [p for p in (json.loads(raw) if raw else []) if p[0] <= step]
        return path, step, points
    return None, 0, []
