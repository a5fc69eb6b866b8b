import pytest
import torch

from diffusegae.data import toys
from diffusegae.data.groups import GroupSampler, NoGroupsError, exact_partner_counts


def _check_groups(labels, anchors, partners):
    k = labels.shape[1]
    for j in range(k):
        same = labels[partners[:, j]] == labels[anchors]
        assert same[:, j].all(), "partner j must share attribute j"
        assert (same.sum(1) == 1).all(), "partner j must differ in every other attribute"


def test_group_invariant_on_toys():
    labels = toys.all_labels()
    gs = GroupSampler(labels)
    a, p = gs.sample(2048, torch.Generator().manual_seed(0))
    assert p.shape == (2048, 3)
    _check_groups(labels, a, p)


def test_group_invariant_on_sparse_irregular_labels():
    gen = torch.Generator().manual_seed(1)
    labels = torch.stack([torch.randint(0, n, (300,), generator=gen) for n in (3, 7, 4, 5)], dim=1)
    gs = GroupSampler(labels)
    counts = exact_partner_counts(labels)
    assert set(gs.anchors.tolist()) == set(torch.nonzero((counts > 0).all(1)).flatten().tolist())
    a, p = gs.sample(512, gen)
    _check_groups(labels, a, p)


def test_exact_counts_match_brute_force():
    gen = torch.Generator().manual_seed(2)
    labels = torch.stack([torch.randint(0, n, (60,), generator=gen) for n in (2, 3, 3)], dim=1)
    counts = exact_partner_counts(labels)
    same = labels[:, None] == labels[None]  # (N, N, k)
    for j in range(3):
        brute = (same[:, :, j] & (same.sum(2) == 1)).sum(1)
        assert torch.equal(counts[:, j], brute)


def test_no_group_possible_is_a_clear_error():
    labels = torch.tensor([[0, 0], [1, 1], [0, 0]])  # nobody shares exactly one value
    with pytest.raises(NoGroupsError, match="GROUP"):
        GroupSampler(labels)


def test_donors_differ_in_every_attribute_and_recombinations_carry_one_donor_value():
    labels = toys.all_labels()
    keep = torch.randperm(labels.shape[0], generator=torch.Generator().manual_seed(3))[:5000]
    labels = labels[keep]  # some combinations missing, as in a training split
    gs = GroupSampler(labels)
    a, _ = gs.sample(1024, torch.Generator().manual_seed(4))
    d = gs.donors(a, torch.Generator().manual_seed(5))
    assert not (labels[d] == labels[a]).any()
    rows = gs.recombined(a, d)  # (B, k)
    assert (rows == -1).any() and (rows >= 0).float().mean() > 0.6
    present = {tuple(r) for r in labels.tolist()}
    for j in range(3):
        want = labels[a].clone()
        want[:, j] = labels[d, j]
        found = rows[:, j] >= 0
        assert torch.equal(labels[rows[found, j]], want[found])
        assert not any(tuple(w) in present for w in want[~found].tolist())


def test_swap_pairs_of_data_where_no_pair_differs_in_everything_is_an_error_not_a_hang():
    from diffusegae.evaluation.metrics import swap_pairs

    one_pose = torch.tensor([[i, j, 0] for i in range(3) for j in range(3)])  # every row shares the pose
    with pytest.raises(ValueError, match="no two rows differ in every attribute"):
        swap_pairs(one_pose, 10)
    bases, donors = swap_pairs(torch.tensor([[i, j, k] for i in range(3) for j in range(3) for k in range(3)]), 10)
    assert bases.shape == donors.shape == (10,)
