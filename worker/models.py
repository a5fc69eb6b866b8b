"""The models of one worker process: the registry it reads, the ones it serves, the ones it holds loaded.

Every worker reads the deployment's registry (diffusegae.registry: the shipped model folders and the models
registered in the store, fetched into a local cache by content hash) and publishes each model's entry
(core.models.ModelEntry) and files, so the API knows every model without loading any. A worker *serves* some
of them (`DGAE_WORKER_MODELS`: names, or `all`): it consumes their Celery queues (worker.app) and loads one on
its first unit, keeping at most `DGAE_MAX_MODELS` loaded; the least recently used is unloaded first.
"""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import metrics
from core.blobs import StoreUnavailable
from core.models import ALL_MODELS, DomainCheck, LoadedModel, ModelContract, ModelEntry, StepRange, model_queue
from core.queue import train_queue
from core.settings import Settings
from diffusegae.checkpoint import CheckpointError
from diffusegae.editing import Editor, read_info
from diffusegae.fitting.directions import DIRECTIONS
from diffusegae.fitting.prototypes import PROTOTYPES
from diffusegae.model_folder import ModelFolder
from diffusegae.registry import ModelRegistry, RegisteredModel, RegistryError, Shelf

log = logging.getLogger("diffusegae.worker")

KNOWN_FRESH_S = 1.0  # how long one registry read serves (a removed or added model is seen within it)


class ModelUnavailable(RuntimeError):
    """A unit's model is not registered, or it could not be loaded: the units that need it fail with the reason."""


@dataclass
class Held:
    """A loaded model."""

    name: str
    editor: Editor
    fingerprint: str  # of its folder: latents made by another model are redone
    version: str  # ModelSet._version when it was loaded


def contract_of(name: str, folder: Path) -> ModelContract:
    """What a model folder defines, read from its manifest and configs (no weights loaded)."""
    from diffusegae.domain import read_domain_config

    f = ModelFolder(folder)
    info = read_info(folder)
    domain = read_domain_config(f.domain_dir)
    return ModelContract(
        name=name, fingerprint=f.fingerprint(), resolution=info.resolution, attributes=info.attributes,
        chunk_sizes=info.chunk_sizes, values=dict(zip(info.attributes, info.values)),
        num_timesteps=info.num_timesteps, steps=StepRange(min=info.min_steps, max=info.num_timesteps),
        default_steps=info.default_steps, default_sampler=info.default_sampler, samplers=info.samplers,
        spacing=info.spacing, description=info.description, dataset=info.dataset, examples=len(f.example_files()),
        example_labels=info.example_labels, domain=DomainCheck(score=domain.score) if domain is not None else None,
        value_edits=(f.edits_dir / PROTOTYPES).is_file(), diffae_edits=(f.edits_dir / DIRECTIONS).is_file())


def key_metrics(folder: Path) -> dict[str, Any]:
    """The figures of eval/metrics.json a list of models shows: swap accuracy per attribute (strict, when measured),
    reconstruction MSE at the evaluated steps."""
    try:
        m = json.loads((ModelFolder(folder).eval_dir / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    out: dict[str, Any] = {k: m[k] for k in ("images", "edit_steps") if k in m}
    steps = str(m.get("edit_steps", ""))
    if isinstance(m.get("reconstruction_mse"), dict):
        out["reconstruction_mse"] = {s: v[steps] for s, v in m["reconstruction_mse"].items()
                                     if isinstance(v, dict) and steps in v}
    if isinstance(m.get("swap_accuracy"), dict):
        out["swap_accuracy"] = {a: v.get("all") for a, v in m["swap_accuracy"].items() if isinstance(v, dict)}
    strict = (((m.get("strict") or {}).get("held_out") or {}).get("swaps") or {}).get("inferred_xT")
    if isinstance(strict, dict):
        out["strict_swap_accuracy"] = {a: v["all"]["rate"] for a, v in strict.items()
                                       if isinstance(v, dict) and isinstance(v.get("all"), dict)}
    return out


def model_files(folder: Path) -> dict[str, bytes]:
    """What the API serves of a model: examples/<i>.png (the manifest's, in order), eval/<figure>.png, MODEL_CARD.md."""
    f = ModelFolder(folder)
    out = {f"examples/{i}.png": p.read_bytes() for i, p in enumerate(f.example_files())}
    out.update({f"eval/{p.name}": p.read_bytes() for p in sorted(f.eval_dir.glob("*.png"))})
    card = f.root / "MODEL_CARD.md"
    if card.is_file():
        out["MODEL_CARD.md"] = card.read_bytes()
    return out


class ModelSet:
    def __init__(self, settings: Settings, shelf: Shelf) -> None:
        self.settings = settings
        self.registry = ModelRegistry(settings.shipped_models(), shelf, settings.model_cache)
        self.serves = list(settings.worker_models)
        self.default = self._default_name()
        self.status: dict[str, LoadedModel] = {}  # every model this worker loaded or tried to
        self._held: OrderedDict[str, Held] = OrderedDict()  # least recently used first
        self._contracts: dict[tuple[str, str], tuple[ModelContract, Path] | str] = {}  # (name, version) -> read
        self._lock = threading.Lock()  # the heartbeat reads status while a task loads
        self._known: tuple[float, dict[str, RegisteredModel]] | None = None  # (when read, the registry)

    def _default_name(self) -> str:
        try:
            return ModelFolder(self.settings.model_dir).read_manifest().name
        except CheckpointError:
            return self.settings.model_dir.name

    def known(self) -> dict[str, RegisteredModel]:
        """The registry, read at most once per KNOWN_FRESH_S: every batch, heartbeat and queue check asks it, and with
        the S3 store a read is a listing and a request per registered model."""
        now = time.monotonic()
        if self._known is None or now - self._known[0] >= KNOWN_FRESH_S:
            self._known = (now, self.registry.models())
        return self._known[1]

    @staticmethod
    def _version(model: RegisteredModel) -> str:
        """Changes when the model does: a registered one's content hash, a shipped folder's fingerprint."""
        return model.content or ModelFolder(model.folder).fingerprint()

    # --- serving ---
    def serves_all(self) -> bool:
        return ALL_MODELS in self.serves

    def serves_model(self, name: str) -> bool:
        return self.serves_all() or name in self.serves

    def served_names(self, known: dict[str, RegisteredModel] | None = None) -> list[str]:
        """The names whose queues this worker consumes: the registry's (with `all`), else the ones it was given
        (`none`: no model; a worker that runs trainings only)."""
        if not self.serves_all():
            return [m for m in self.serves if m != "none"]
        return sorted(known if known is not None else self.known())

    def queues(self) -> list[str]:
        train = [train_queue(self.settings.queue)] if self.settings.worker_train else []
        return [model_queue(self.settings.queue, m) for m in self.served_names()] + train

    def get(self, name: str) -> Held:
        """The loaded model `name`, fetching it from the store and loading it (and unloading the least recently used)
        when needed. StoreUnavailable passes through (the batch is tried again); other failures are ModelUnavailable."""
        known = self.known().get(name)
        if known is None:
            self.unload(name)
            raise ModelUnavailable(f"model {name!r} is not registered (it was removed, or never added)")
        version = self._version(known) if not known.error else ""
        held = self._held.get(name)
        if held is not None and held.version == version:
            self._held.move_to_end(name)
            self._touch(name)
            return held
        self.unload(name)  # not loaded, or changed since (removed and registered again)
        while len(self._held) >= self.settings.max_models:
            self.unload(next(iter(self._held)))
        self._set(name, LoadedModel(status="loading"))
        started = time.monotonic()
        try:
            if known.error:
                raise CheckpointError(known.error)
            cached = self.registry.fetched(name)
            folder = self.registry.local(name)
            source = ("its folder on this disk" if known.folder is not None else
                      f"the cache {folder}" if cached else f"the store, fetched into {folder} with every SHA-256 checked")
            editor = Editor.load(folder, self.settings.device, runtime=self.settings.runtime,
                                 threads=self.settings.torch_thread_count(), cache_dir=self.settings.onnx_cache_dir,
                                 bf16_min_batch=self.settings.bf16_min_batch)
            fingerprint = ModelFolder(folder).fingerprint()
        except StoreUnavailable:
            self._set(name, LoadedModel(status="loading", error="waiting for the store"))
            raise
        except (CheckpointError, RegistryError, OSError, RuntimeError, ValueError) as e:
            why = f"cannot load model {name}: {e}"
            self._set(name, LoadedModel(status="failed", error=why))
            log.error(why)
            raise ModelUnavailable(why) from None
        seconds = time.monotonic() - started
        held = self._held[name] = Held(name, editor, fingerprint, version)
        self._set(name, LoadedModel(status="ready", fingerprint=fingerprint, device=str(editor.device),
                                    runtime=editor.runtime.name, runtime_note=editor.runtime.note,
                                    load_s=round(seconds, 3), used=time.time(), source=source))
        metrics.model_loaded(seconds, str(editor.device))
        if editor.domain is None:
            log.warning("model %s has no domain statistics: its uploads get no domain score; run diffusegae "
                        "calibrate-domain on its folder", name)
        log.info("model %s loaded from %s in %.1f s on %s, runtime %s (%s)", name, source, seconds, editor.device,
                 editor.runtime.name, editor.runtime.detail)
        return held

    def unload(self, name: str) -> None:
        held = self._held.pop(name, None)
        if held is None:
            return
        with self._lock:
            self.status.pop(name, None)
        del held
        gc.collect()  # the ONNX sessions and tensors go now, before the next model loads
        log.info("model %s unloaded (at most %d loaded: DGAE_MAX_MODELS)", name, self.settings.max_models)

    def _set(self, name: str, status: LoadedModel) -> None:
        with self._lock:
            self.status[name] = status

    def _touch(self, name: str) -> None:
        with self._lock:
            if name in self.status:
                self.status[name] = self.status[name].model_copy(update={"used": time.time()})

    def loaded(self) -> dict[str, dict[str, Any]]:
        """What the heartbeat says of the models this worker holds or failed to load."""
        with self._lock:
            return {n: s.model_dump(mode="json") for n, s in self.status.items()}

    # --- the registry as workers publish it ---
    def entries(self) -> tuple[dict[str, ModelEntry], dict[str, Path]]:
        """Every registered model's entry -> (entries, the local folder each was read from). A registered model's
        light files (no weights) are fetched into the cache to be read; contracts are kept per model version."""
        out, folders = {}, {}
        for name, m in self.known().items():
            error, contract, folder = m.error, None, None
            if not error:
                key = (name, self._version(m))
                if key not in self._contracts:
                    try:
                        light = self.registry.local(name, weights=False)
                        self._contracts[key] = (contract_of(name, light), light)
                    except (CheckpointError, RegistryError, OSError, ValueError) as e:
                        self._contracts[key] = str(e)
                got = self._contracts[key]
                if isinstance(got, str):
                    error = got
                else:
                    contract, folder = got
                    folders[name] = folder
            figures = tuple(sorted(p.name for p in ModelFolder(folder).eval_dir.glob("*.png"))) if folder else ()
            out[name] = ModelEntry(name=name, shipped=m.shipped, created=m.created, error=error, contract=contract,
                                   metrics=key_metrics(folder) if folder else {}, figures=figures,
                                   card=bool(folder) and (folder / "MODEL_CARD.md").is_file())
        return out, folders
