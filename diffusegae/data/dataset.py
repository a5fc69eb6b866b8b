"""A labelled image set held in memory: what every training stage and the evaluation read.

Two rendered kinds share the attribute structure identity (6) x background (111) x pose (10):
"toys" (flat icons, `data/toys.py`) and "vehicles" (3-D toy vehicle photographs, `data/vehicles.py`).
Vehicles take about a minute per thousand images to render, so whole sets are cached as uint8 arrays
under `cache_dir` (default `$DIFFUSEGAE_CACHE` or `~/.cache/diffusegae`).
"""

from __future__ import annotations

import fcntl
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffusegae.data import toys, vehicles

RENDERED_KINDS = ("toys", "vehicles")


@dataclass
class LabeledImages:
    images: torch.Tensor  # (N, 3, R, R) float in [-1, 1]
    labels: torch.Tensor  # (N, k) int64, value index per attribute
    attributes: tuple[str, ...]  # k names
    values: tuple[tuple[str, ...], ...]  # per attribute, the name of each value index
    files: tuple[str, ...] = ()  # source file per row, when read from disk

    def __post_init__(self) -> None:
        assert self.images.shape[0] == self.labels.shape[0], "one label row per image"
        assert self.labels.shape[1] == len(self.attributes) == len(self.values), "one column per attribute"

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_values(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    def subset(self, idx: torch.Tensor) -> LabeledImages:
        files = tuple(self.files[i] for i in idx.tolist()) if self.files else ()
        return LabeledImages(self.images[idx], self.labels[idx], self.attributes, self.values, files)


def toys_split(seed: int = 0, test_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed train/test partition of the 6,660 label combinations: (train rows, test rows) of all_labels()."""
    n = toys.all_labels().shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = int(round(n * test_fraction))
    return perm[n_test:].sort().values, perm[:n_test].sort().values


def _split_labels(split: str) -> torch.Tensor:
    labels = toys.all_labels()
    if split == "all":
        return labels
    if split not in ("train", "test"):
        raise ValueError(f"split must be train, test or all, got {split!r}")
    train, test = toys_split()
    return labels[train if split == "train" else test]


def load_toys(resolution: int = 32, split: str = "train") -> LabeledImages:
    """Render the toys set ("train", "test" or "all") at `resolution`."""
    labels = _split_labels(split)
    images = toys.render_tensor(labels, resolution)
    values = tuple(tuple(str(v) for v in range(n)) for n in toys.NUM_VALUES)
    return LabeledImages(images, labels, toys.ATTRIBUTES, values)


def vehicle_value_names() -> tuple[tuple[str, ...], ...]:
    return (vehicles.IDENTITY_NAMES, tuple(vehicles.background_name(b) for b in range(vehicles.NUM_VALUES[1])),
            tuple(f"{36 * p + 20} deg" for p in range(vehicles.NUM_VALUES[2])))


def _render_vehicle_row(args: tuple[tuple[int, int, int], int, int, tuple[int, int, int] | None]) -> np.ndarray:
    labels, resolution, seed, nuisance_of = args
    return np.asarray(vehicles.render(*labels, resolution, seed=seed, nuisance_of=nuisance_of))


def render_vehicles(labels: torch.Tensor, resolution: int, workers: int | None = None, seed: int = 0,
                    nuisance_of: torch.Tensor | None = None) -> np.ndarray:
    """(N, 3) labels -> (N, R, R, 3) uint8 (nuisance draw `seed`), rendered in `workers` processes (default: all
    cores). `nuisance_of` (N, 3): row i gets the nuisance draw of the image with those labels instead of its own."""
    others = nuisance_of.tolist() if nuisance_of is not None else [None] * labels.shape[0]
    rows = [(tuple(lab), resolution, seed, tuple(o) if o else None) for lab, o in zip(labels.tolist(), others)]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(rows) < 64:
        return np.stack([_render_vehicle_row(r) for r in rows])
    with ProcessPoolExecutor(workers) as pool:
        return np.stack(list(pool.map(_render_vehicle_row, rows, chunksize=32)))


def images_from_uint8(arr: np.ndarray) -> torch.Tensor:
    """(N, R, R, 3) uint8 -> (N, 3, R, R) float in [-1, 1], the models' input."""
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def default_cache_dir() -> Path:
    return Path(os.environ.get("DIFFUSEGAE_CACHE", Path.home() / ".cache" / "diffusegae"))


def _vehicles_cache(resolution: int, seed: int, cache_dir: Path | None) -> np.ndarray:
    """All 6,660 renders of nuisance draw `seed` (N, R, R, 3) uint8, rendered once and then read from the cache."""
    name = f"vehicles-v{vehicles.RENDER_VERSION}-{resolution}" + (f"-draw{seed}" if seed else "") + ".npy"
    cache = (cache_dir or default_cache_dir()) / name
    if not cache.is_file():
        cache.parent.mkdir(parents=True, exist_ok=True)
        # One process renders while the others (data-parallel ranks, a test beside a training run) wait for it.
        with open(cache.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not cache.is_file():
                tmp = cache.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, render_vehicles(toys.all_labels(), resolution, seed=seed))
                tmp.replace(cache)
    return np.load(cache, mmap_mode="r")


def load_vehicles(resolution: int = 64, split: str = "train", cache_dir: Path | None = None,
                  draws: int = 1) -> LabeledImages:
    """The vehicles set ("train", "test" or "all") at `resolution`, rendered once and then read from the cache.

    `draws` > 1 adds photographs of the same label rows under further nuisance draws (seeds 1 .. draws-1; light,
    exposure, camera jitter, texture offset, grain), after the first draw's: more pictures per label combination,
    so that a model cannot learn one photograph per combination by heart."""
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    labels = _split_labels(split)
    # all_labels() enumerates (identity, background, pose) in row-major order, so a label row is its index.
    rows = ((labels[:, 0] * vehicles.NUM_VALUES[1] + labels[:, 1]) * vehicles.NUM_VALUES[2] + labels[:, 2]).numpy()
    images = images_from_uint8(np.concatenate([_vehicles_cache(resolution, s, cache_dir)[rows] for s in range(draws)]))
    return LabeledImages(images, labels.repeat(draws, 1), vehicles.ATTRIBUTES, vehicle_value_names())


def load_rendered(kind: str, resolution: int, split: str = "train", draws: int = 1) -> LabeledImages:
    """`draws`: nuisance draws per label row (vehicles; toys pictures have no nuisance)."""
    if kind == "toys":
        if draws != 1:
            raise ValueError("toys pictures are a pure function of their labels: one draw only")
        return load_toys(resolution, split)
    if kind == "vehicles":
        return load_vehicles(resolution, split, draws=draws)
    raise ValueError(f"unknown rendered dataset {kind!r}; one of {RENDERED_KINDS}")
