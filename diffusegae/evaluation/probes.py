"""Linear probes on latent chunks: the perplexity matrix of PAPER.md section 6."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LinearProbe(nn.Module):
    """A linear classifier on standardised features: (B, F) -> (B, classes) logits."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std.clamp_min(1e-6))
        self.lin = nn.Linear(mean.shape[0], num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.lin((features - self.mean) / self.std)


def fit_linear_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: int, *, steps: int = 300) -> LinearProbe:
    """L-BFGS on cross-entropy with a small L2 penalty; features (N, F), labels (N,)."""
    probe = LinearProbe(features.mean(0), features.std(0), num_classes)
    opt = torch.optim.LBFGS(probe.lin.parameters(), lr=0.5, max_iter=steps, history_size=20,
                            line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(probe(features), labels) + 1e-4 * probe.lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return probe


def linear_probe_accuracy(features: torch.Tensor, labels: torch.Tensor, num_classes: int, *, seed: int = 0,
                          steps: int = 300) -> float:
    """Test accuracy of a linear classifier on an 80/20 split (PAPER.md section 6)."""
    n = features.shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * n)
    tr, te = perm[:cut], perm[cut:]
    probe = fit_linear_probe(features[tr], labels[tr], num_classes, steps=steps)
    with torch.no_grad():
        return (probe(features[te]).argmax(1) == labels[te]).float().mean().item()


def perplexity_matrix(z_dis: torch.Tensor, labels: torch.Tensor, slices: dict[str, slice],
                      num_values: tuple[int, ...]) -> torch.Tensor:
    """(chunks, attributes) test accuracies of linear probes: row = latent chunk, column = attribute."""
    names = list(slices)
    out = torch.zeros(len(names), len(num_values))
    for i, name in enumerate(names):
        for j, n in enumerate(num_values):
            out[i, j] = linear_probe_accuracy(z_dis[:, slices[name]], labels[:, j], n)
    return out
