"""A model folder: the one place that knows where a trained model's files live.

    MODEL/
      model.json                   ModelManifest: name, dataset, value names, default steps, sampler and spacing
      autoencoder/model.safetensors + model.json    stage 1 weights + AutoencoderConfig
      gae/model.safetensors + model.json            stage 2 weights + GAEConfig
      domain/stats.safetensors + model.json         training distribution of z_sem / z_dis + DomainConfig
                                                    (thresholds; `diffusegae calibrate-domain`; optional)
      edits/prototypes.safetensors + .json          each attribute value's mean z_dis chunk (`diffusegae fit-edits`;
                                                    optional: without it, no edits to a named value)
      MODEL_CARD.md, eval/         what the model measured
      runs/                        training state (checkpoints, snapshots, logs; not shipped)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from diffusegae.checkpoint import CheckpointError, check_known_fields, load_config, load_json, load_module
from diffusegae.config import AutoencoderConfig, GAEConfig
from diffusegae.diffusion.samplers import SAMPLING_VERSION
from diffusegae.diffusion.schedule import DEFAULT_SPACING, SPACINGS
from diffusegae.models.autoencoder import DiffusionAutoencoder
from diffusegae.models.gae import GroupAutoencoder

WEIGHTS = "model.safetensors"  # each stage's weights; its config is the .json beside it


@dataclass(frozen=True)
class ModelManifest:
    """`model.json`: the folder-level facts a loaded model reports."""

    name: str
    values: Mapping[str, tuple[str, ...]]  # value names per attribute, in the GAE's attribute order
    default_steps: int = 20  # sampling steps the service uses when a request names none
    default_sampler: str = "ddim"
    spacing: str = DEFAULT_SPACING  # how the sampling steps spread over the schedule (what calibrate measured with)
    dataset: str = ""  # what it was trained on: "toys", "vehicles", "folder" ("" when unknown)
    description: str = ""  # one line: what inputs the model knows (shown when an image is out of its domain)
    examples: tuple[str, ...] = ()  # a few images it knows, paths relative to the folder (served by the API)
    # per example, the value name of each attribute it was rendered with ({} or absent: not known)
    example_labels: tuple[Mapping[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "values": {a: list(v) for a, v in self.values.items()},
                "examples": list(self.examples), "example_labels": [dict(x) for x in self.example_labels]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: Path) -> ModelManifest:
        check_known_fields(cls, data, source)
        values = data.get("values")
        if not isinstance(values, dict) or not all(isinstance(v, list) for v in values.values()):
            raise CheckpointError(f"{source}: 'values' must map each attribute to a list of value names")
        if data.get("spacing", DEFAULT_SPACING) not in SPACINGS:
            raise CheckpointError(f"{source}: 'spacing' must be one of {list(SPACINGS)}, not {data['spacing']!r}")
        labels = data.get("example_labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, dict) for x in labels):
            raise CheckpointError(f"{source}: 'example_labels' must be a list with one object (attribute -> value "
                                  "name) per example")
        try:
            return cls(**{**data, "values": {str(a): tuple(map(str, v)) for a, v in values.items()},
                          "examples": tuple(map(str, data.get("examples") or ())),
                          "example_labels": tuple({str(a): str(v) for a, v in x.items()} for x in labels)})
        except TypeError as e:
            raise CheckpointError(f"{source}: {e}") from None


@dataclass(frozen=True)
class ModelFolder:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def manifest_path(self) -> Path:
        return self.root / "model.json"

    @property
    def autoencoder_weights(self) -> Path:
        return self.root / "autoencoder" / WEIGHTS

    @property
    def gae_weights(self) -> Path:
        return self.root / "gae" / WEIGHTS

    @property
    def runs(self) -> Path:
        """Training state: resumable checkpoints, EMA snapshots, loss logs."""
        return self.root / "runs"

    @property
    def domain_dir(self) -> Path:
        """The domain statistics and thresholds (`diffusegae.domain`); absent until `calibrate-domain` ran."""
        return self.root / "domain"

    @property
    def edits_dir(self) -> Path:
        """What the edit methods fitted beside the GAE (value prototypes: diffusegae.fitting.prototypes); optional."""
        return self.root / "edits"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    def read_manifest(self) -> ModelManifest:
        return ModelManifest.from_json(load_json(self.manifest_path), self.manifest_path)

    def write_manifest(self, manifest: ModelManifest) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.manifest_path.write_text(json.dumps(manifest.to_json(), indent=2) + "\n")

    def example_files(self) -> list[Path]:
        """The manifest's example images that exist (paths inside the folder only)."""
        return [p for p, _ in self.examples()]

    def examples(self) -> list[tuple[Path, dict[str, str]]]:
        """The manifest's example images that exist, each with its value names ({} when not known)."""
        manifest = self.read_manifest()
        root = self.root.resolve()
        out = []
        for i, name in enumerate(manifest.examples):
            p = (self.root / name).resolve()
            if p.is_relative_to(root) and p.is_file():
                labels = manifest.example_labels[i] if i < len(manifest.example_labels) else {}
                out.append((p, dict(labels)))
        return out

    def parts(self) -> list[Path]:
        """What the model is made of, relative to the folder (no training state): a copy of these is the model."""
        root = self.root.resolve()
        named = [Path("model.json"), Path("autoencoder"), Path("gae"), Path("domain"), Path("edits"), Path("eval"),
                 Path("MODEL_CARD.md")]
        out = [p for p in named if (self.root / p).exists()]
        return out + [p.relative_to(root) for p in self.example_files() if not p.is_relative_to(root / "eval")]

    def read_configs(self) -> tuple[AutoencoderConfig, GAEConfig]:
        """Both stages' configs, without their weights (what a model is, not whether its weights load)."""
        self.check_exists()
        return load_config(self.autoencoder_weights, AutoencoderConfig), load_config(self.gae_weights, GAEConfig)

    def load_autoencoder(self) -> DiffusionAutoencoder:
        return load_module(self.autoencoder_weights, AutoencoderConfig, DiffusionAutoencoder)

    def load_gae(self) -> GroupAutoencoder:
        return load_module(self.gae_weights, GAEConfig, GroupAutoencoder)

    def check_exists(self) -> None:
        if not self.root.is_dir():
            raise CheckpointError(f"{self.root}: model folder not found")

    def fingerprint(self) -> str:
        """Changes when the model's weights or configs change: latents made with another model are redone."""
        h = hashlib.sha256(f"sampling:{SAMPLING_VERSION};".encode())
        for p in (self.manifest_path, self.autoencoder_weights.with_suffix(".json"), self.autoencoder_weights,
                  self.gae_weights.with_suffix(".json"), self.gae_weights,
                  self.domain_dir / "model.json", self.domain_dir / "stats.safetensors"):  # verdicts of new thresholds
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(self.root)}:{st.st_size}:{st.st_mtime_ns};".encode())
        return h.hexdigest()[:16]


def manifest_for(name: str, attributes: Sequence[str], values: Sequence[Sequence[str]], **fields: Any) -> ModelManifest:
    return ModelManifest(name=name, values={a: tuple(v) for a, v in zip(attributes, values)}, **fields)


def load_parts(folder: ModelFolder, device: str | torch.device = "cpu") -> tuple[DiffusionAutoencoder, GroupAutoencoder]:
    """Both stages, checked against each other."""
    folder.check_exists()
    ae, gae = folder.load_autoencoder(), folder.load_gae()
    if ae.cfg.z_sem_dim != gae.cfg.z_sem_dim:
        raise CheckpointError(f"{folder.root}: autoencoder z_sem {ae.cfg.z_sem_dim} != GAE z_sem {gae.cfg.z_sem_dim}")
    return ae.to(device), gae.to(device)
