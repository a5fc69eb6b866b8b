"""Fixtures every test folder shares: a really trained tiny model, built once and cached."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


# What decides the tiny model's weights; editing the CLI or the evaluation does not retrain it.
_MODEL_SOURCES = ("diffusegae/config.py", "tests/tiny_model.py", "diffusegae/checkpoint.py", "diffusegae/model_folder.py",
                  "diffusegae/models", "diffusegae/training", "diffusegae/data", "diffusegae/diffusion")


def _library_hash() -> str:
    h = hashlib.sha256()
    files = [p for name in _MODEL_SOURCES for p in ([ROOT / name] if name.endswith(".py") else (ROOT / name).rglob("*.py"))]
    for p in sorted(files):
        h.update(p.relative_to(ROOT).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def tiny_model_dir() -> Path:
    """Build (or reuse) the tiny model for the current library source; returns its folder.

    The cache lives under $DIFFUSEGAE_TEST_CACHE (default /tmp/diffusegae-test-cache) and is
    keyed by a hash of the library source, so a change to the models retrains it.
    """
    from tests.tiny_model import build_tiny_model

    cache = Path(os.environ.get("DIFFUSEGAE_TEST_CACHE", "/tmp/diffusegae-test-cache"))
    final = cache / f"tiny-{_library_hash()}"
    if not (final / "model.json").is_file():
        tmp = cache / f"tiny-building-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the suite shares 2 cores with workers and browsers
        build_tiny_model(tmp)
        torch.set_num_threads(threads)
        shutil.rmtree(tmp / "runs", ignore_errors=True)
        if not final.exists():
            tmp.rename(final)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return tiny_model_dir()
