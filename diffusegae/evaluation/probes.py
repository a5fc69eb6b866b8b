"""Linear probes on latent chunks: the perplexity matrix of PAPER.md section 6."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def linear_probe_accuracy(features: torch.Tensor, labels: torch.Tensor, num_classes: int, *, seed: int = 0,
                          steps: int = 300) -> float:
    """Test accuracy of a linear classifier on an 80/20 split (PAPER.md section 6)."""
    n = features.shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * n)
    tr, te = perm[:cut], perm[cut:]
    mu, sd = features[tr].mean(0), features[tr].std(0).clamp_min(1e-6)
    f = (features - mu) / sd
    lin = nn.Linear(f.shape[1], num_classes)
    opt = torch.optim.LBFGS(lin.parameters(), lr=0.5, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(lin(f[tr]), labels[tr]) + 1e-4 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (lin(f[te]).argmax(1) == labels[te]).float().mean().item()


def perplexity_matrix(z_dis: torch.Tensor, labels: torch.Tensor, slices: dict[str, slice],
                      num_values: tuple[int, ...]) -> torch.Tensor:
    """(chunks, attributes) test accuracies of linear probes: row = latent chunk, column = attribute."""
    names = list(slices)
    out = torch.zeros(len(names), len(num_values))
    for i, name in enumerate(names):
        for j, n in enumerate(num_values):
            out[i, j] = linear_probe_accuracy(z_dis[:, slices[name]], labels[:, j], n)
    return out
