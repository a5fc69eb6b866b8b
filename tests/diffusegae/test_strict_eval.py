"""The strict swap measurement of `diffusegae evaluate` (`evaluation.strict`):

- every rate carries its count and a Wilson 95% interval;
- a background counts as moved only when the donor's surface kind *and* colour are read, each at the threshold: a
  decode the classifier reads as "half marble, half plain" in the donor's colour is a colour move, not a swap;
- pairs differ in every attribute and facet;
- `evaluate` reports the strict single and multi-attribute swaps, the classifier's clean accuracy and an unseen
  draw's swaps beside the card's old fields.
"""

from __future__ import annotations

import math

import pytest
import torch

from diffusegae.data import vehicles
from diffusegae.data.dataset import LabeledImages, vehicle_value_names
from diffusegae.data.groups import distinct_rows
from diffusegae.evaluation.classifier import _mix, train_classifier
from diffusegae.evaluation.report import evaluate
from diffusegae.evaluation.strict import Reading, facet_labels, facets_of, rate, wilson
from tests.tiny_model import tiny_toys

VEHICLE_ATTRS = vehicles.ATTRIBUTES


def test_wilson_interval_matches_the_formula_and_its_edges():
    lo, hi = wilson(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    assert wilson(0, 10)[0] == 0.0 and round(wilson(0, 10)[1], 4) == 0.2775
    assert round(wilson(10, 10)[0], 4) == 0.7225 and wilson(10, 10)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)
    # 246 of 256 (the card's loose background figure): the interval is about +-2.5 points, not +-0.
    lo, hi = wilson(246, 256)
    assert 0.92 < lo < 0.94 and 0.97 < hi < 0.99
    r = rate(40, 48)
    assert r["hits"] == 40 and r["n"] == 48 and r["rate"] == round(40 / 48, 4)
    assert r["ci95"][0] < 40 / 48 < r["ci95"][1]
    z = 1.96  # the centre of the interval is pulled towards 1/2
    assert math.isclose(sum(wilson(40, 48)) / 2, (40 / 48 + z * z / 96) / (1 + z * z / 48))


def _reading(rows: list[dict[int, float]], threshold: float = 0.9) -> Reading:
    """One image per row: background probabilities {value: p} (the rest spread evenly), identity and pose sure."""
    n = len(rows)
    bg = torch.zeros(n, vehicles.NUM_VALUES[1])
    for i, row in enumerate(rows):
        rest = (1 - sum(row.values())) / (bg.shape[1] - len(row))
        bg[i] = rest
        for v, p in row.items():
            bg[i, v] = p
    ident = torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.long), 6).float()
    pose = torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.long), 10).float()
    facets = facets_of(VEHICLE_ATTRS, vehicle_value_names())
    return Reading([ident, bg, pose], VEHICLE_ATTRS, facets, threshold)


def test_background_moves_only_when_kind_and_colour_are_both_read():
    marble, plain = vehicles.SURFACES.index("marble"), vehicles.SURFACES.index("plain")
    red, orange = vehicles.PALETTE_NAMES.index("red"), vehicles.PALETTE_NAMES.index("orange")
    red_marble, red_plain = vehicles.background_of(marble, red), vehicles.background_of(plain, red)
    orange_marble = vehicles.background_of(marble, orange)
    r = _reading([
        {red_marble: 0.97},  # a red marble: moved
        {red_marble: 0.55, red_plain: 0.44},  # the donor's colour, half its veins: the old reading said marble
        {red_marble: 0.47, orange_marble: 0.47},  # marble for sure, red or orange?
        {red_plain: 0.97},  # the base's plain in the donor's red
    ])
    want = torch.full((4,), red_marble)
    assert r.loose(1, want).tolist() == [True, True, True, False]
    facets = r.facet_reads(1, want)
    assert facets["colour"].tolist() == [True, True, False, True]
    assert facets["kind"].tolist() == [True, False, True, False]
    assert r.strict(1, want).tolist() == [True, False, False, False]
    assert r.strict(0, torch.zeros(4, dtype=torch.long)).all()  # no facets: the value's own probability


def test_without_facets_the_value_itself_must_reach_the_threshold():
    probs = torch.tensor([[0.85, 0.15], [0.95, 0.05]])
    r = Reading([probs], ("size",), {}, 0.9)
    want = torch.zeros(2, dtype=torch.long)
    assert r.loose(0, want).tolist() == [True, True]
    assert r.strict(0, want).tolist() == [False, True]
    assert r.facet_reads(0, want) == {}


def test_pairs_and_triples_differ_in_every_attribute_and_facet():
    labels = torch.tensor([[i, b, p] for i in range(3) for b in range(vehicles.NUM_VALUES[1]) for p in range(3)])
    facets = facets_of(VEHICLE_ATTRS, vehicle_value_names())
    full = facet_labels(labels, VEHICLE_ATTRS, facets)
    assert full.shape[1] == 5
    kind, colour = vehicles.surface_kind_and_colour(labels[:, 1])
    assert torch.equal(full[:, 3], kind) and torch.equal(full[:, 4], colour)
    for k in (2, 3):
        rows = distinct_rows(full, 200, k, seed=0)
        assert rows.shape == (200, k)
        for a in range(k):
            for b in range(a + 1, k):
                assert (full[rows[:, a]] != full[rows[:, b]]).all()
    assert distinct_rows(full, 200, 4, seed=0).shape[0] == 0, "4 rows cannot differ pairwise in 3 identities"
    assert facets_of(("identity", "background", "pose"), tiny_toys().values) == {}


def test_classifier_mixtures_have_soft_targets_in_proportion():
    gen = torch.Generator().manual_seed(0)
    x = torch.stack([torch.full((3, 8, 8), float(i)) for i in range(6)])
    t = [torch.nn.functional.one_hot(torch.arange(6), 6).float()]
    mixed, targets = _mix(x, t, 4, gen, blend=0.5)
    assert torch.equal(mixed[4:], x[4:]) and torch.equal(targets[0][4:], t[0][4:])
    assert torch.allclose(targets[0].sum(1), torch.ones(6))
    for i in range(4):  # every image is the constant i: the mixture's mean is the targets' mean of the values
        expect = (targets[0][i] * torch.arange(6.0)).sum().item()
        assert math.isclose(mixed[i].mean().item(), expect, abs_tol=1e-5)
    gen = torch.Generator().manual_seed(1)
    wide = torch.stack([torch.full((3, 16, 16), float(i)) for i in range(64)])
    mixed, _ = _mix(wide, [torch.eye(64)], 64, gen)
    rows = mixed[:, 0, :, 0]  # (64, 16): a composite is constant along each row, a blend everywhere
    assert ((rows[:, 0] != rows[:, -1]) & (rows[:, :1] == rows[:, :8]).all(1)).any(), "no top/bottom composite"


@pytest.fixture(scope="module")
def tiny_eval(editor, tmp_path_factory):
    torch.manual_seed(0)
    data = tiny_toys(16)
    clf = train_classifier(data.images, data.labels, data.num_values, steps=3, batch_size=16)
    unseen = LabeledImages(data.images.flip(-1), data.labels, data.attributes, data.values)  # stands in for a draw
    out = tmp_path_factory.mktemp("eval")
    result = evaluate(editor, data, out, clf=clf, steps_list=[2], recon_images=4, swap_pairs_n=6, edit_steps=2,
                      log=lambda m: None, progress=False, triples_n=5, unseen=(7, unseen))
    return result


def test_evaluate_reports_strict_swaps_with_counts_and_intervals(tiny_eval):
    r = tiny_eval
    attrs = ["identity", "background", "pose"]
    for key in ("swap_accuracy", "swap_accuracy_random_xT"):  # the card's old fields, still there
        assert list(r[key]) == attrs
        assert {"swapped", "kept", "all", "pairs"} <= set(r[key]["identity"])
    for tag in ("held_out", "draw_7"):
        entry = r["strict"][tag]
        for kind in ("inferred_xT", "random_xT"):
            single = entry["swaps"][kind]
            assert single["pairs"] == 6
            for a in attrs:
                for what in ("moved", "kept", "all"):
                    cell = single[a][what]
                    assert cell["n"] == 6 and 0 <= cell["hits"] <= 6
                    assert cell["ci95"][0] <= cell["rate"] <= cell["ci95"][1]
                    assert single[a]["loose"][what]["n"] == 6
                assert single[a]["all"]["hits"] <= min(single[a]["moved"]["hits"], single[a]["kept"]["hits"])
            multi = entry["multi_swaps"][kind]
            assert multi["triples"] == 5
            assert set(multi) - {"triples"} == {"identity+background", "identity+pose", "background+pose"}
            cell = multi["identity+pose"]
            assert set(cell["moved"]) == {"identity", "pose"} and cell["all"]["n"] == 5
            assert cell["all"]["hits"] <= cell["both_moved"]["hits"]
    assert r["strict"]["draw_7"]["draw"] == 7
    clean = r["classifier"]["clean"]
    assert set(clean) == {"held_out", "draw_7"} and clean["held_out"]["pose"]["strict"]["n"] == 360
    assert r["classifier"]["threshold"] == 0.9 and r["classifier"]["facets"] == {}


def test_evaluate_keeps_the_classifier_it_was_given_beside_the_numbers(tmp_path):
    import argparse
    import hashlib

    from diffusegae.commands.evaluate import _keep_classifier
    from diffusegae.model_folder import ModelFolder

    folder = ModelFolder(tmp_path / "m")
    folder.eval_dir.mkdir(parents=True)
    (folder.eval_dir / "classifier.safetensors").write_bytes(b"shipped")
    given, out = tmp_path / "strict.safetensors", tmp_path / "out"
    given.write_bytes(b"strict")
    out.mkdir()

    def keep(**kw) -> dict:
        return _keep_classifier(argparse.Namespace(**{"classifier": None, "overwrite": False, **kw}), folder, out)

    assert keep() == {"path": str(folder.eval_dir / "classifier.safetensors"),
                      "sha256": hashlib.sha256(b"shipped").hexdigest()}
    assert not (out / "classifier.safetensors").exists(), "the model's own classifier is not copied"
    assert keep(classifier=given)["path"] == "classifier.safetensors"
    assert (out / "classifier.safetensors").read_bytes() == b"strict"
    given.write_bytes(b"another")
    assert keep(classifier=given)["path"] == str(given), "a different classifier there stays without --overwrite"
    assert (out / "classifier.safetensors").read_bytes() == b"strict"
    keep(classifier=given, overwrite=True)
    assert (out / "classifier.safetensors").read_bytes() == b"another"


def test_evaluate_refuses_a_draw_of_data_without_draws(tiny_model, tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "diffusegae.cli", "evaluate", "--model", str(tiny_model), "--draw", "5",
                        "--out", str(tmp_path / "e"), "--threads", "1", "--device", "cpu"], capture_output=True,
                       text=True, timeout=240)
    assert r.returncode != 0 and "--draw is a nuisance draw of the vehicles renders" in r.stderr
    assert not (tmp_path / "e" / "metrics.json").exists()


class _ReadsTheGround:
    """A loose instrument: it reads each picture's background from its bottom row, the rest it is sure of."""

    def __init__(self, labels: torch.Tensor) -> None:
        self.labels = labels

    def probabilities(self, x: torch.Tensor) -> list[torch.Tensor]:
        row = x[:, 0, -1, 0].round().long()  # every picture holds its own row index
        n = x.shape[0]
        return [torch.nn.functional.one_hot(self.labels[row, j], m).float() if j == 1 else
                torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.long), m).float()
                for j, m in enumerate(vehicles.NUM_VALUES)]


def test_mixture_check_catches_an_instrument_that_reads_half_a_picture():
    from diffusegae.evaluation.strict import mixture_check

    labels = torch.tensor([[i % 6, b, i % 10] for i, b in enumerate(range(0, 111, 3))])
    images = torch.arange(labels.shape[0]).float()[:, None, None, None].expand(-1, 3, 10, 10).clone()
    data = LabeledImages(images, labels, VEHICLE_ATTRS, vehicle_value_names())
    facets = facets_of(VEHICLE_ATTRS, vehicle_value_names())
    loose = mixture_check(_ReadsTheGround(labels), data, facets, 0.9, n=20)
    assert loose["pairs"] == 20 and loose["top_rows"] == 4
    assert loose["background.kind"]["rate"] == 1.0 and loose["background.colour"]["rate"] == 1.0
    unsure = _ReadsTheGround(labels)
    unsure.probabilities = lambda x: [torch.full((x.shape[0], m), 1 / m) for m in vehicles.NUM_VALUES]
    assert mixture_check(unsure, data, facets, 0.9, n=20)["background.kind"]["rate"] == 0.0
    assert mixture_check(unsure, data, {}, 0.9) == {}
