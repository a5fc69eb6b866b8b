"""Measuring instruments: an attribute classifier on images and linear probes on latent chunks.

The classifier is trained on rendered toys (with noise and blur, so slightly soft decodes are
still read right) and judges whether a decoded image shows the attributes it should.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from diffusegae.checkpoint import load_state_into, load_tensors, save_tensors
from diffusegae.models.layers import group_norm


class AttributeClassifier(nn.Module):
    """(B, 3, R, R) -> one logit vector per attribute."""

    def __init__(self, num_values: tuple[int, ...], width: int = 32) -> None:
        super().__init__()
        self.num_values = tuple(num_values)
        w = width
        layers: list[nn.Module] = [nn.Conv2d(3, w, 3, padding=1)]
        for cin, cout in ((w, w), (w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w)):
            layers += [group_norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1), nn.MaxPool2d(2)]
        layers += [group_norm(4 * w), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Linear(4 * w, n) for n in num_values)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.body(x)
        return [head(h) for head in self.heads]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """(N, 3, R, R) -> (N, k) predicted value indices."""
        self.eval()
        out = []
        for i in range(0, x.shape[0], batch):
            out.append(torch.stack([lg.argmax(1) for lg in self(x[i: i + batch])], dim=1))
        return torch.cat(out)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Gaussian noise and a random 3x3 blur on half the batch: what imperfect decodes look like."""
    blur = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    soft = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), blur.expand(3, 1, 3, 3).to(x), groups=3)
    pick = (torch.rand(x.shape[0], 1, 1, 1, generator=gen) < 0.5).to(x)
    x = pick * soft + (1 - pick) * x
    sigma = 0.1 * torch.rand(x.shape[0], 1, 1, 1, generator=gen).to(x)
    return x + sigma * torch.randn(x.shape, generator=gen).to(x)


def train_classifier(images: torch.Tensor, labels: torch.Tensor, num_values: tuple[int, ...], *, steps: int = 1500,
                     batch_size: int = 128, lr: float = 2e-3, seed: int = 0) -> AttributeClassifier:
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    clf = AttributeClassifier(num_values)
    opt = torch.optim.AdamW(clf.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for _ in range(steps):
        idx = torch.randint(0, images.shape[0], (batch_size,), generator=gen)
        logits = clf(_augment(images[idx], gen))
        loss = sum(F.cross_entropy(lg, labels[idx, j]) for j, lg in enumerate(logits))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return clf.eval()


def save_classifier(path: Path, clf: AttributeClassifier) -> None:
    save_tensors(path, clf.state_dict(), {"num_values": list(clf.num_values)})


def load_classifier(path: Path) -> AttributeClassifier:
    tensors, meta = load_tensors(path)
    clf = AttributeClassifier(tuple(meta["num_values"]))
    load_state_into(clf, tensors, path)
    return clf.eval()


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
