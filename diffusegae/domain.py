"""Is an image like the ones the model was trained on? A domain score per encoded image.

A model only knows its training distribution: a photo given to a model of flat 32x32 icons encodes to some
z_sem all the same, and its edits come out as smears. The check here needs nothing beyond what encoding an
image already computes (no diffusion steps):

- **roundtrip** (the verdict): the GAE's round-trip error, |D(E(z)) - z| / |z| with z the normalised z_sem
  (the GAE's z-score). The GAE was trained to reconstruct the z_sem of training images only; it maps any z_sem
  into its 100-d z_dis and back, and what comes back for an image unlike them is another image's code. On
  toys-32 held-out renders score 0.01-0.10, every out-of-domain image measured 0.15 or more.
- **chunks**: per z_dis chunk, the cycle error |E(D(z_dis))_j - z_dis_j| / spread_j (spread_j: the mean
  distance of training chunks from their mean), so an image can say which of its attributes the model knows.
- **roundtrip+chunks**: out of domain when the round trip *or any chunk* is out of range. Where a GAE's round trip
  is loose (vehicles-64: held-out median 0.087, against 0.01-0.10 in all on toys-32) pictures of another kind
  can round-trip within range while their identity chunk alone is far out of it.
- **mahalanobis** (measured by calibration for comparison, not the verdict unless chosen): the distance of
  z_sem under a Gaussian of the training z_sem, a probabilistic PCA (Tipping & Bishop 1999): the top
  `components` eigenvectors with their variances and one variance for everything off that subspace, reported
  as RMS per dimension, sqrt(d^2 / dim).

Thresholds are `margin` x a quantile of the scores of held-out in-domain images (`diffusegae calibrate-domain`,
`diffusegae.fitting.domain`). Stored in the model folder as `domain/stats.safetensors` (the statistics) and
`domain/model.json` (`DomainConfig`: which score, the thresholds, and what calibration measured).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from diffusegae.checkpoint import CheckpointError, check_known_fields, load_json, load_tensors, save_tensors
from diffusegae.models.gae import GroupAutoencoder

STATS = "stats.safetensors"
CONFIG = "model.json"
DOMAIN_VERSION = 1


SCORES = ("roundtrip", "mahalanobis", "roundtrip+chunks")  # what may decide the verdict


def verdict_score(score: str) -> str:
    """The per-image score a verdict compares with `DomainConfig.threshold` (roundtrip+chunks: the round trip)."""
    return "roundtrip" if score == "roundtrip+chunks" else score


def verdict_parts(score: str, attributes: Iterable[str]) -> list[str]:
    """The per-image scores that must each be within their own threshold for an image to be in domain under
    `score`: the verdict's score, and with roundtrip+chunks every attribute's chunk too."""
    return [verdict_score(score), *attributes] if score == "roundtrip+chunks" else [score]


def within(scores: Mapping[str, torch.Tensor], thresholds: Mapping[str, float], score: str,
           attributes: Iterable[str]) -> torch.Tensor:
    """The in-domain rule, for a batch: (N,) bool, every score that verdict `score` names (verdict_parts) within its
    threshold. `scores` and `thresholds` are keyed like DomainStats.scores ("roundtrip", "mahalanobis", attributes)."""
    return torch.stack([scores[p] <= thresholds[p] for p in verdict_parts(score, attributes)]).all(0)


@dataclass(frozen=True)
class DomainConfig:
    """`domain/model.json`: how scores become a verdict, and what the calibration measured."""

    threshold: float  # the image's score above this: out of domain
    chunk_thresholds: Mapping[str, float]  # per z_dis chunk, the same for its cycle error
    score: str = "roundtrip"  # which score decides (SCORES)
    quantile: float = 0.995  # of held-out in-domain scores, where the thresholds were set ...
    margin: float = 1.5  # ... times this
    components: int = 32  # principal directions of the z_sem Gaussian (the rest share one variance)
    version: int = DOMAIN_VERSION
    measured: Mapping[str, Any] = field(default_factory=dict)  # what the calibration measured (for the model card)

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise ValueError(f"unknown domain score {self.score!r}; one of {SCORES}")

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "chunk_thresholds": dict(self.chunk_thresholds),
                "measured": dict(self.measured)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], source: Path) -> DomainConfig:
        check_known_fields(cls, data, source)
        try:
            return cls(**{**data, "chunk_thresholds": {str(k): float(v) for k, v in
                                                       dict(data.get("chunk_thresholds") or {}).items()}})
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{source}: {e}") from None


@dataclass
class Gaussian:
    """N(mean, C) with C = V diag(var) V^T + residual (I - V V^T): a PPCA covariance (or a full one, k = dim)."""

    mean: torch.Tensor  # (d,)
    basis: torch.Tensor  # (d, k) orthonormal columns
    var: torch.Tensor  # (k,) variance along each column
    residual: torch.Tensor  # () variance in every direction off the basis (0 when k = d)

    @classmethod
    def fit(cls, x: torch.Tensor, components: int | None = None, shrinkage: float = 0.0) -> Gaussian:
        """x (N, d). components None: the full covariance, shrunk towards its diagonal by `shrinkage`."""
        x = x.double()
        mean = x.mean(0)
        xc = x - mean
        cov = xc.T @ xc / max(1, x.shape[0] - 1)
        if shrinkage:
            cov = (1 - shrinkage) * cov + shrinkage * torch.diag(torch.diag(cov))
        evals, evecs = torch.linalg.eigh(cov)  # ascending
        evals, evecs = evals.flip(0).clamp_min(0), evecs.flip(1)
        d = x.shape[1]
        k = d if components is None else min(components, d)
        floor = 1e-6 * max(float(evals[0]), 1e-12)  # keeps a rank-deficient estimate invertible
        residual = evals[k:].mean() if k < d else torch.zeros((), dtype=x.dtype)
        return cls(mean.float(), evecs[:, :k].float().contiguous(), evals[:k].clamp_min(floor).float(),
                   residual.clamp_min(floor).float() if k < d else residual.float())

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, d) -> (N,) Mahalanobis distance as RMS per dimension, sqrt(d^2 / d)."""
        xc = x.float().to(self.mean.device) - self.mean
        proj = xc @ self.basis  # (N, k)
        d2 = (proj.square() / self.var).sum(1)
        if self.basis.shape[1] < self.basis.shape[0]:
            d2 = d2 + (xc.square().sum(1) - proj.square().sum(1)).clamp_min(0) / self.residual
        return (d2 / xc.shape[1]).sqrt()

    def tensors(self, prefix: str) -> dict[str, torch.Tensor]:
        return {f"{prefix}.mean": self.mean, f"{prefix}.basis": self.basis, f"{prefix}.var": self.var,
                f"{prefix}.residual": self.residual}

    @classmethod
    def from_tensors(cls, t: Mapping[str, torch.Tensor], prefix: str) -> Gaussian:
        try:
            return cls(*(t[f"{prefix}.{n}"].float() for n in ("mean", "basis", "var", "residual")))
        except KeyError as e:
            raise CheckpointError(f"domain statistics: missing tensor {e}") from None

    def to(self, device: str | torch.device) -> Gaussian:
        return Gaussian(*(t.to(device) for t in (self.mean, self.basis, self.var, self.residual)))


@dataclass
class DomainStats:
    """What the scores need of the training distribution, besides the GAE itself."""

    z_sem: Gaussian  # of the training z_sem (the mahalanobis score)
    chunk_spread: dict[str, torch.Tensor]  # attribute -> () mean distance of training z_dis chunks from their mean

    @classmethod
    def fit(cls, z_sem: torch.Tensor, z_dis: torch.Tensor, slices: Mapping[str, slice], *,
            components: int = 32) -> DomainStats:
        """From training codes: z_sem (N, 512), z_dis (N, D)."""
        spread = {a: (z_dis[:, sl] - z_dis[:, sl].mean(0)).norm(dim=1).mean().float() for a, sl in slices.items()}
        return cls(Gaussian.fit(z_sem, components), spread)

    @torch.no_grad()
    def scores(self, gae: GroupAutoencoder, z_sem: torch.Tensor, z_dis: torch.Tensor,
               slices: Mapping[str, slice]) -> dict[str, torch.Tensor]:
        """-> {"roundtrip": (N,), "mahalanobis": (N,), attribute: (N,) cycle error of each chunk}."""
        z = gae.normalize(z_sem)
        out = {"roundtrip": (gae.decode(gae.encode(z)) - z).norm(dim=1) / z.norm(dim=1).clamp_min(1e-8),
               "mahalanobis": self.z_sem.score(z_sem)}
        cycle = gae.z_dis_of(gae.z_sem_of(z_dis))
        for a, sl in slices.items():
            out[a] = (cycle[:, sl] - z_dis[:, sl]).norm(dim=1) / self.chunk_spread[a].clamp_min(1e-8)
        return out

    def to(self, device: str | torch.device) -> DomainStats:
        return DomainStats(self.z_sem.to(device), {a: t.to(device) for a, t in self.chunk_spread.items()})

    def save(self, path: Path, attributes: Sequence[str]) -> None:
        tensors = self.z_sem.tensors("z_sem")
        tensors.update({f"chunk_spread.{a}": self.chunk_spread[a].reshape(()) for a in attributes})
        save_tensors(path, tensors, {"attributes": list(attributes), "version": DOMAIN_VERSION})

    @classmethod
    def load(cls, path: Path) -> DomainStats:
        tensors, meta = load_tensors(path)
        attributes = meta.get("attributes") or []
        try:
            spread = {a: tensors[f"chunk_spread.{a}"].float() for a in attributes}
        except KeyError as e:
            raise CheckpointError(f"{path}: missing tensor {e}") from None
        return cls(Gaussian.from_tensors(tensors, "z_sem"), spread)


@dataclass
class DomainCheck:
    """Loaded statistics and thresholds: codes -> a verdict per image."""

    stats: DomainStats
    config: DomainConfig

    def judge(self, gae: GroupAutoencoder, z_sem: torch.Tensor, z_dis: torch.Tensor,
              slices: Mapping[str, slice]) -> list[dict[str, Any]]:
        """Per image: {"in_domain", "score", "threshold", "chunks": {attribute: {"in_domain", "score", "threshold"}}}."""
        scores = {k: v.cpu() for k, v in self.stats.scores(gae, z_sem, z_dis, slices).items()}
        key, cfg = verdict_score(self.config.score), self.config
        judged = [a for a in slices if a in cfg.chunk_thresholds]
        inside = within(scores, {key: cfg.threshold, **cfg.chunk_thresholds}, cfg.score, judged).tolist()
        s = {k: v.tolist() for k, v in scores.items()}
        return [{**_verdict(s[key][i], cfg.threshold), "in_domain": inside[i],
                 "chunks": {a: _verdict(s[a][i], cfg.chunk_thresholds[a]) for a in judged}}
                for i in range(len(inside))]

    def to(self, device: str | torch.device) -> DomainCheck:
        return DomainCheck(self.stats.to(device), self.config)


def _verdict(score: float, threshold: float) -> dict[str, Any]:
    return {"in_domain": bool(score <= threshold), "score": round(float(score), 5), "threshold": round(threshold, 5)}


def save_domain(folder: Path, stats: DomainStats, config: DomainConfig, attributes: Sequence[str]) -> None:
    """Write `folder/stats.safetensors` and `folder/model.json` (folder: MODEL/domain)."""
    folder.mkdir(parents=True, exist_ok=True)
    stats.save(folder / STATS, attributes)
    (folder / CONFIG).write_text(json.dumps(config.to_json(), indent=2) + "\n")


def read_domain_config(folder: Path) -> DomainConfig | None:
    """The domain check's config in `folder` (MODEL/domain), without its statistics; None when the model has none."""
    if not (folder / STATS).is_file() or not (folder / CONFIG).is_file():
        return None
    config = DomainConfig.from_json(load_json(folder / CONFIG), folder / CONFIG)
    if config.version != DOMAIN_VERSION:
        raise CheckpointError(f"{folder}: domain statistics version {config.version}, this code reads "
                              f"{DOMAIN_VERSION}: run diffusegae calibrate-domain again")
    return config


def load_domain(folder: Path) -> DomainCheck | None:
    """The domain check in `folder` (MODEL/domain); None when the model has none (it was never calibrated)."""
    config = read_domain_config(folder)
    return None if config is None else DomainCheck(DomainStats.load(folder / STATS), config)
