"""GROUP(k, 1) sampling (PAPER.md section 3).

A group is an anchor plus one partner per attribute j that shares exactly attribute j's value
with the anchor and differs in every other attribute. Everything is precomputed once so that
drawing a batch of groups is a handful of tensor operations.

For the cross-swap loss (not in the paper) the sampler also draws donors that differ from the
anchor in every attribute, and finds the recombinations: the rows that carry the anchor's values
with attribute j's value taken from the donor, where the data holds such a row. The evaluations draw their base
and donor rows with `distinct_rows` (k-tuples differing pairwise in every attribute), also here.
"""

from __future__ import annotations

import itertools

import torch


class NoGroupsError(ValueError):
    """No sample in the dataset can anchor a GROUP(k, 1) group."""


def _match_counts(labels: torch.Tensor, cols: tuple[int, ...]) -> torch.Tensor:
    """For every row, how many rows (itself included) equal it on `cols`: (N,)."""
    _, inverse, counts = torch.unique(labels[:, list(cols)], dim=0, return_inverse=True, return_counts=True)
    return counts[inverse]


def exact_partner_counts(labels: torch.Tensor) -> torch.Tensor:
    """(N, k): for row i and attribute j, the number of rows sharing only attribute j with row i.

    Inclusion-exclusion over the other attributes: sum over S of (-1)^|S| #(match on {j} + S).
    """
    n, k = labels.shape
    out = torch.zeros(n, k, dtype=torch.long)
    for j in range(k):
        others = [a for a in range(k) if a != j]
        for r in range(len(others) + 1):
            for subset in itertools.combinations(others, r):
                out[:, j] += (-1) ** r * _match_counts(labels, (j, *subset))
    return out


class GroupSampler:
    """Draws batches of GROUP(k, 1) groups from integer labels (N, k)."""

    def __init__(self, labels: torch.Tensor, attributes: tuple[str, ...] | None = None) -> None:
        if labels.dim() != 2 or labels.shape[1] < 2:
            raise ValueError(f"labels must be (N, k) with k >= 2 attributes, got shape {tuple(labels.shape)}")
        self.labels = labels.long().contiguous()
        n, k = self.labels.shape
        self.k = k
        counts = exact_partner_counts(self.labels)
        self.anchors = torch.nonzero((counts > 0).all(dim=1)).flatten()  # rows that can anchor a group
        if self.anchors.numel() == 0:
            names = attributes or tuple(f"attribute {j}" for j in range(k))
            short = [names[j] for j in range(k) if (counts[:, j] == 0).all()]
            raise NoGroupsError(
                "no sample can form a GROUP(k,1) group: no pair of samples shares exactly one value of "
                + (", ".join(short) if short else "every attribute at once") + " and differs in all others")
        # Rows bucketed by value, per attribute: order[j] lists row ids sorted by labels[:, j];
        # start[j][v] / size[j][v] locate value v's bucket in it.
        self.order, self.start, self.size = [], [], []
        for j in range(k):
            col = self.labels[:, j]
            order = torch.argsort(col, stable=True)
            size = torch.bincount(col, minlength=int(col.max()) + 1)
            self.order.append(order)
            self.size.append(size)
            self.start.append(torch.cumsum(size, 0) - size)
        # Label combinations as sorted integer keys sum_j v_j * stride_j, each with a row that has it,
        # for looking up recombinations; sorted rather than a dense table, whose size is the product
        # of the value counts (large for a user's folder with many attributes).
        num_values = self.labels.max(dim=0).values + 1  # (k,)
        self.stride = torch.ones(k, dtype=torch.long)
        for j in range(k - 2, -1, -1):
            self.stride[j] = self.stride[j + 1] * num_values[j + 1]
        self.combo_keys, self.combo_rows = torch.sort(self.labels @ self.stride)

    def _valid(self, anchors: torch.Tensor, cand: torch.Tensor, j: int) -> torch.Tensor:
        same = self.labels[cand] == self.labels[anchors]  # (B, k)
        others = torch.ones(self.k, dtype=torch.bool)
        others[j] = False
        return same[:, j] & ~same[:, others].any(dim=1)

    def partners(self, anchors: torch.Tensor, gen: torch.Generator | None = None, tries: int = 64) -> torch.Tensor:
        """(B,) anchor rows -> (B, k) partner rows; partner j shares exactly attribute j."""
        out = torch.empty(anchors.shape[0], self.k, dtype=torch.long)
        for j in range(self.k):
            vals = self.labels[anchors, j]
            start, size = self.start[j][vals], self.size[j][vals]
            pending = torch.arange(anchors.shape[0])
            for _ in range(tries):  # rejection sampling within the bucket of the shared value
                u = torch.rand(pending.shape[0], generator=gen)
                cand = self.order[j][start[pending] + (u * size[pending]).long().clamp_max(size[pending] - 1)]
                ok = self._valid(anchors[pending], cand, j)
                out[pending[ok], j] = cand[ok]
                pending = pending[~ok]
                if pending.numel() == 0:
                    break
            for i in pending.tolist():  # rare: few valid partners in a big bucket; pick exactly
                bucket = self.order[j][start[i]: start[i] + size[i]]
                valid = bucket[self._valid(anchors[i].expand(bucket.shape[0]), bucket, j)]
                out[i, j] = valid[torch.randint(0, valid.shape[0], (1,), generator=gen)]
        return out

    def donors(self, anchors: torch.Tensor, gen: torch.Generator | None = None, tries: int = 64) -> torch.Tensor:
        """(B,) anchor rows -> (B,) rows differing from their anchor in every attribute."""
        out = torch.randint(0, self.labels.shape[0], anchors.shape, generator=gen)
        for _ in range(tries):
            bad = torch.nonzero((self.labels[out] == self.labels[anchors]).any(dim=1)).flatten()
            if bad.numel() == 0:
                return out
            out[bad] = torch.randint(0, self.labels.shape[0], bad.shape, generator=gen)
        raise NoGroupsError(f"no row differing in every attribute from {bad.numel()} anchors after {tries} draws")

    def recombined(self, anchors: torch.Tensor, donors: torch.Tensor) -> torch.Tensor:
        """(B,) anchors, (B,) donors -> (B, k) rows: column j has the anchor's values but the donor's
        value of attribute j; -1 where no row has that combination. Where several rows have it (photographs
        of one label row under several nuisance draws), always the same one of them."""
        a, d = self.labels[anchors], self.labels[donors]  # (B, k)
        eye = torch.eye(self.k, dtype=torch.bool)
        combos = torch.where(eye[None], d[:, None], a[:, None])  # (B, k, k): combos[:, j] = a with d's value j
        keys = combos @ self.stride  # (B, k)
        at = torch.searchsorted(self.combo_keys, keys).clamp_max(self.combo_keys.numel() - 1)
        return torch.where(self.combo_keys[at] == keys, self.combo_rows[at], -1)

    def sample(self, batch_size: int, gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """-> anchors (B,), partners (B, k): row indices into the labels."""
        anchors = self.anchors[torch.randint(0, self.anchors.shape[0], (batch_size,), generator=gen)]
        return anchors, self.partners(anchors, gen)


def distinct_rows(labels: torch.Tensor, n: int, k: int = 2, seed: int = 0, tries: int = 200) -> torch.Tensor:
    """Up to n seeded k-tuples of rows (n, k) that differ pairwise in every column of `labels`; fewer where the
    data hold fewer (`tries` rounds of 4n random draws)."""
    gen = torch.Generator().manual_seed(seed)
    found: list[torch.Tensor] = []
    count = 0
    for _ in range(tries):
        if count >= n or labels.shape[0] == 0:
            break
        rows = torch.randint(0, labels.shape[0], (4 * n, k), generator=gen)
        ok = torch.ones(rows.shape[0], dtype=torch.bool)
        for a, b in itertools.combinations(range(k), 2):
            ok &= (labels[rows[:, a]] != labels[rows[:, b]]).all(1)
        found.append(rows[ok])
        count += int(ok.sum())
    return torch.cat(found)[:n] if found else torch.zeros(0, k, dtype=torch.long)
