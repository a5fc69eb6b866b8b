"""A labelled image set held in memory: what every training stage and the evaluation read."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from diffusegae.data import toys


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
    """Fixed train/test partition of the 6,660 toys combinations: (train rows, test rows) of all_labels()."""
    n = toys.all_labels().shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = int(round(n * test_fraction))
    return perm[n_test:].sort().values, perm[:n_test].sort().values


def load_toys(resolution: int = 32, split: str = "train") -> LabeledImages:
    """Render the toys set ("train", "test" or "all") at `resolution`."""
    labels = toys.all_labels()
    if split != "all":
        train, test = toys_split()
        if split not in ("train", "test"):
            raise ValueError(f"split must be train, test or all, got {split!r}")
        labels = labels[train if split == "train" else test]
    images = toys.render_tensor(labels, resolution)
    values = tuple(tuple(str(v) for v in range(n)) for n in toys.NUM_VALUES)
    return LabeledImages(images, labels, toys.ATTRIBUTES, values)
