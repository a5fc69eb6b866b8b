"""The vehicles renderer at a tiny size: deterministic, every attribute visible, files and labels agree."""

import csv
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from diffusegae.data import toys, vehicles
from diffusegae.data.dataset import load_vehicles, vehicle_value_names

R = 16


def _arr(i, b, p, **kw):
    return np.asarray(vehicles.render(i, b, p, R, **kw), np.float32) / 255


def _min_pairwise(images: list[np.ndarray]) -> float:
    x = np.stack(images)
    d = np.abs(x[:, None] - x[None]).mean(axis=(2, 3, 4))
    return float(d[~np.eye(len(images), dtype=bool)].min())


def test_render_is_deterministic_and_sized():
    a, b = vehicles.render(2, 40, 7, R), vehicles.render(2, 40, 7, R)
    assert a.size == (R, R) and a.tobytes() == b.tobytes()
    assert vehicles.render(0, 0, 0, 24).size == (24, 24)


def test_every_attribute_changes_the_picture():
    # Without nuisance, so that only the labels differ.
    assert _min_pairwise([_arr(i, 5, 3, nuisance=False) for i in range(6)]) > 0.01
    for i in range(6):
        assert _min_pairwise([_arr(i, 5, p, nuisance=False) for p in range(10)]) > 0.003, f"identity {i}"
    assert _min_pairwise([_arr(1, b, 3, nuisance=False) for b in range(111)]) > 0.003


def test_the_kinds_of_surface_differ_in_one_colour():
    # The pattern, not only the colour, must show at a small size (render v1's plain, carpet and paper differed
    # by 0.007 here).
    blue = vehicles.PALETTE_NAMES.index("blue")
    kinds = [vehicles.background_of(k, blue) for k in range(len(vehicles.SURFACES))]
    assert kinds == list(range(72, 84)) and all(vehicles.surface_kind_and_colour(b)[1] == blue for b in kinds)
    assert _min_pairwise([_arr(1, b, 3, nuisance=False) for b in kinds]) > 0.012


def test_nuisance_varies_the_photograph_but_less_than_the_labels():
    base = _arr(3, 20, 4)
    other_seed = _arr(3, 20, 4, seed=1)
    nuisance = np.abs(base - other_seed).mean()
    assert nuisance > 0.005
    assert np.abs(base - _arr(3, 21, 4)).mean() > nuisance  # another surface
    assert np.abs(base - _arr(0, 20, 4)).mean() > nuisance  # another vehicle


def test_out_of_range_labels_are_refused():
    for bad in ((6, 0, 0), (0, 111, 0), (0, 0, 10), (-1, 0, 0)):
        try:
            vehicles.render(*bad, R)
        except ValueError as e:
            assert "must be in" in str(e)
        else:
            raise AssertionError(f"{bad} was rendered")


def test_cli_render_writes_files_that_match_their_labels(tmp_path):
    out = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "diffusegae.cli", "dataset", "render", "--kind", "vehicles", "--out", str(out),
                    "--resolution", str(R), "--limit", "12", "--workers", "2"], check=True)
    with (out / "labels.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and list(rows[0]) == ["file", *vehicles.ATTRIBUTES]
    for row in rows:
        i, b, p = (int(row[a]) for a in vehicles.ATTRIBUTES)
        with Image.open(out / row["file"]) as img:
            assert img.tobytes() == vehicles.render(i, b, p, R).tobytes(), row


def test_load_vehicles_reads_each_label_row_from_its_cached_image(tmp_path):
    # A cache whose image k is filled with k (mod 251) in every pixel: each row must get its own index back.
    n = toys.all_labels().shape[0]
    fake = (np.arange(n) % 251).astype(np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    np.save(tmp_path / f"vehicles-v{vehicles.RENDER_VERSION}-2.npy", fake)
    data = load_vehicles(2, "test", cache_dir=tmp_path)
    i, b, p = data.labels.unbind(1)
    index = (i * 111 + b) * 10 + p
    got = torch.round((data.images[:, 0, 0, 0] + 1) * 127.5).long()
    assert torch.equal(got, index % 251)
    assert data.values == vehicle_value_names() and len(data.values[1]) == 111


def test_further_nuisance_draws_follow_the_first_with_the_same_labels(tmp_path):
    # Draw d's cache holds d + 1 in every pixel: the rows come draw by draw, the labels repeat.
    n = toys.all_labels().shape[0]
    for d in range(3):
        name = f"vehicles-v{vehicles.RENDER_VERSION}-2" + (f"-draw{d}" if d else "") + ".npy"
        np.save(tmp_path / name, np.full((n, 2, 2, 3), d + 1, np.uint8))
    one = load_vehicles(2, "test", cache_dir=tmp_path)
    three = load_vehicles(2, "test", cache_dir=tmp_path, draws=3)
    m = len(one)
    assert len(three) == 3 * m and torch.equal(three.labels, one.labels.repeat(3, 1))
    got = torch.round((three.images[:, 0, 0, 0] + 1) * 127.5).long()
    assert torch.equal(got, torch.arange(1, 4).repeat_interleave(m))


def test_a_nuisance_draw_can_be_borrowed_from_another_image():
    # The same photograph with another background: everything the labels do not decide stays.
    a = vehicles.render(0, 5, 3, 16)
    borrowed = vehicles.render(0, 5, 3, 16, nuisance_of=(2, 40, 7))
    assert borrowed.tobytes() != a.tobytes()
    assert borrowed.tobytes() == vehicles.render(0, 5, 3, 16, nuisance_of=(2, 40, 7)).tobytes()
    assert vehicles.render(0, 5, 3, 16, nuisance_of=(0, 5, 3)).tobytes() == a.tobytes()
