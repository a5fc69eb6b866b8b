import csv
import subprocess
import sys

import torch

from diffusegae.data import toys
from diffusegae.data.images import to_tensor


def _img(i, b, p, r=32):
    return to_tensor(toys.render(i, b, p, r))


def test_render_is_deterministic_and_sized():
    a, b = toys.render(3, 50, 7, 32), toys.render(3, 50, 7, 32)
    assert a.size == (32, 32) and a.tobytes() == b.tobytes()
    assert toys.render(0, 0, 0, 64).size == (64, 64)


def test_every_pose_of_every_identity_differs_at_32px():
    for i in range(toys.NUM_IDENTITIES):
        poses = torch.stack([_img(i, 0, p) for p in range(toys.NUM_POSES)])
        d = (poses[:, None] - poses[None]).abs().mean(dim=(2, 3, 4))
        off = d[~torch.eye(toys.NUM_POSES, dtype=torch.bool)]
        assert off.min() > 0.02, f"identity {i}: two poses look alike ({off.min():.4f})"


def test_identities_and_backgrounds_differ():
    ids = torch.stack([_img(i, 5, 0) for i in range(toys.NUM_IDENTITIES)])
    d = (ids[:, None] - ids[None]).abs().mean(dim=(2, 3, 4))
    assert d[~torch.eye(6, dtype=torch.bool)].min() > 0.02
    bgs = torch.stack([_img(0, b, 0) for b in range(toys.NUM_BACKGROUNDS)])
    d = (bgs[:, None] - bgs[None]).abs().mean(dim=(2, 3, 4))
    assert d[~torch.eye(111, dtype=torch.bool)].min() > 0.01


def test_render_rejects_out_of_range():
    try:
        toys.render(6, 0, 0)
    except ValueError as e:
        assert "identity" in str(e)
    else:
        raise AssertionError("identity 6 accepted")


def test_dataset_render_cli(tmp_path):
    subprocess.run([sys.executable, "-m", "diffusegae.cli", "dataset", "render", "--out", str(tmp_path),
                    "--resolution", "16", "--limit", "20"], check=True, capture_output=True)
    rows = list(csv.DictReader((tmp_path / "labels.csv").open()))
    assert len(rows) == 20 and set(rows[0]) == {"file", "identity", "background", "pose"}
    assert all((tmp_path / r["file"]).is_file() for r in rows)
