"""The attribute classifier: the instrument that judges whether a decoded image shows the attributes it should.

It is trained on rendered images (with noise and blur, so slightly soft decodes are still read right) and, for
`mix` of each batch, on two renders put together (the top rows of one over the bottom rows of the other) with soft
targets in proportion. A decode that shows the donor's surface on the backdrop and the base's on the ground is such
a picture: a classifier trained on whole renders alone reads it confidently as whichever it leans to (the shipped
one before, for a third of such composites at probability >= 0.9), one trained on composites reads it as mixed, so
that the strict reading (`evaluation.strict`: probability >= 0.9) names what a person would name at a glance.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from diffusegae.checkpoint import load_state_into, load_tensors, save_tensors
from diffusegae.models.layers import group_norm


class AttributeClassifier(nn.Module):
    """(B, 3, R, R) -> one logit vector per attribute.

    `stem_stride` 2 halves the image in the first convolution (a 64 px classifier then costs about what a 32 px
    one does).
    """

    def __init__(self, num_values: tuple[int, ...], width: int = 32, stem_stride: int = 1) -> None:
        super().__init__()
        self.num_values = tuple(num_values)
        self.stem_stride = stem_stride
        w = width
        stem = nn.Conv2d(3, w, 3, padding=1) if stem_stride == 1 else nn.Conv2d(3, w, 4, stride=2, padding=1)
        layers: list[nn.Module] = [stem]
        for cin, cout in ((w, w), (w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w)):
            layers += [group_norm(cin), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1), nn.MaxPool2d(2)]
        layers += [group_norm(4 * w), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Linear(4 * w, n) for n in num_values)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.body(x)
        return [head(h) for head in self.heads]

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor, batch: int = 256) -> list[torch.Tensor]:
        """(N, 3, R, R) -> per attribute, the softmax over its values (N, n_j)."""
        self.eval()
        parts = [[lg.softmax(1) for lg in self(x[i: i + batch])] for i in range(0, x.shape[0], batch)]
        return [torch.cat(col) for col in zip(*parts)]

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


def _mix(x: torch.Tensor, targets: list[torch.Tensor], n: int, gen: torch.Generator, blend: float = 0.0
         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Put the first `n` images of the batch together with partners from the batch: a top/bottom composite (the
    partner's rows above a random cut, this image's below) or, for `blend` of them, a blend; soft targets (B, n_j)
    in the share of each (rows, or blend weight)."""
    if n == 0:
        return x, targets
    partner = torch.randint(0, x.shape[0], (n,), generator=gen)
    lam = torch.rand(n, generator=gen)  # the share of the image itself
    rows = x.shape[-2]
    cut = (lam * rows).round().long().clamp(1, rows - 1)  # rows [0, rows - cut) from the partner
    composite = torch.rand(n, generator=gen) >= blend
    lam = torch.where(composite, cut.float() / rows, lam)
    top = torch.arange(rows)[None, :] < (rows - cut)[:, None]  # (n, R): rows taken from the partner
    own, other = x[:n], x[partner]
    cut_img = torch.where(top[:, None, :, None], other, own)
    blended = lam[:, None, None, None] * own + (1 - lam[:, None, None, None]) * other
    mixed = torch.where(composite[:, None, None, None], cut_img, blended)
    x = torch.cat([mixed, x[n:]])
    targets = [torch.cat([lam[:, None] * t[:n] + (1 - lam[:, None]) * t[partner], t[n:]]) for t in targets]
    return x, targets


def train_classifier(images: torch.Tensor, labels: torch.Tensor, num_values: tuple[int, ...], *, steps: int = 1500,
                     batch_size: int = 128, lr: float = 2e-3, seed: int = 0, mix: float = 0.5,
                     blend: float = 0.0) -> AttributeClassifier:
    """`mix`: the share of each batch made of two renders put together (`_mix`), with soft targets; `blend`: the
    share of those that are blends rather than top/bottom composites."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    clf = AttributeClassifier(num_values, stem_stride=2 if images.shape[-1] >= 64 else 1)
    opt = torch.optim.AdamW(clf.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    n_mix = int(round(mix * batch_size))
    for _ in tqdm(range(steps), desc="classifier", dynamic_ncols=True, mininterval=5):
        idx = torch.randint(0, images.shape[0], (batch_size,), generator=gen)
        onehot = [F.one_hot(labels[idx, j], n).float() for j, n in enumerate(num_values)]
        x, targets = _mix(images[idx], onehot, n_mix, gen, blend)
        logits = clf(_augment(x, gen))
        loss = sum(F.cross_entropy(lg, targets[j]) for j, lg in enumerate(logits))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return clf.eval()


def save_classifier(path: Path, clf: AttributeClassifier) -> None:
    save_tensors(path, clf.state_dict(), {"num_values": list(clf.num_values), "stem_stride": clf.stem_stride})


def load_classifier(path: Path) -> AttributeClassifier:
    tensors, meta = load_tensors(path)
    clf = AttributeClassifier(tuple(meta["num_values"]), stem_stride=int(meta.get("stem_stride", 1)))
    load_state_into(clf, tensors, path)
    return clf.eval()
