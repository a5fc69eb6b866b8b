"""Fixtures every test folder shares: a really trained tiny model, built once and cached."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


# What decides the tiny model's weights; editing the CLI or the evaluation does not retrain it.
_MODEL_SOURCES = ("diffusegae/config.py", "tests/tiny_model.py", "diffusegae/checkpoint.py", "diffusegae/model_folder.py",
                  "diffusegae/models", "diffusegae/training", "diffusegae/data", "diffusegae/diffusion",
                  "diffusegae/domain.py", "diffusegae/fitting/domain.py", "diffusegae/evaluation/ood.py")


def _library_hash() -> str:
    h = hashlib.sha256()
    files = [p for name in _MODEL_SOURCES for p in ([ROOT / name] if name.endswith(".py") else (ROOT / name).rglob("*.py"))]
    for p in sorted(files):
        h.update(p.relative_to(ROOT).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _cache_root() -> Path:
    return Path(os.environ.get("DIFFUSEGAE_TEST_CACHE", "/tmp/diffusegae-test-cache"))


def cached_dir(name: str, *, sources: Sequence[str], files: Sequence[Path] = (), key: str = "",
               build: Callable[[Path], None]) -> Path:
    """A folder `build(folder)` fills, built once per input and reused: $DIFFUSEGAE_TEST_CACHE/<name>-<hash>.

    The hash covers the library `sources` (files, or folders whose *.py count), the bytes of `files` (committed
    weights the build reads), `key` (the build's own parameters, e.g. the source of the function that builds) and
    the torch version. The folder is built under a temporary name and renamed into place, so a test process never
    sees half of it; a lock file beside it makes parallel test processes (pytest -n) wait for one build.
    """
    h = hashlib.sha256()
    paths = [p for name_ in sources for p in ([ROOT / name_] if name_.endswith(".py") else (ROOT / name_).rglob("*.py"))]
    for p in sorted(paths) + [Path(f).resolve() for f in files]:
        h.update(p.relative_to(ROOT).as_posix().encode() if p.is_relative_to(ROOT) else p.name.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    h.update(key.encode())
    h.update(torch.__version__.encode())
    final = _cache_root() / f"{name}-{h.hexdigest()[:16]}"
    if not (final / "cache-key.json").is_file():
        with _build_lock(final):  # parallel test processes (pytest -n) wait for one build instead of each training
            if not (final / "cache-key.json").is_file():
                _build_into(final, build, {"sources": list(sources), "files": [str(f) for f in files], "key": key,
                                           "torch": torch.__version__})
    return final


@contextlib.contextmanager
def _build_lock(final: Path) -> Iterator[None]:
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f"{final.name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _build_into(final: Path, build: Callable[[Path], None], key: dict) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"{final.name}-building-", dir=final.parent))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # the suite shares 2 cores with workers and browsers
        build(tmp)
        (tmp / "cache-key.json").write_text(json.dumps(key, indent=2) + "\n")
        tmp.chmod(0o755)  # mkdtemp makes it private
        try:
            tmp.rename(final)
        except OSError:  # another process (without the lock: an older checkout) renamed its build into place first
            if not (final / "cache-key.json").is_file():
                raise
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(tmp, ignore_errors=True)


def tiny_model_dir() -> Path:
    """Build (or reuse) the tiny model for the current library source; returns its folder.

    The cache lives under $DIFFUSEGAE_TEST_CACHE (default /tmp/diffusegae-test-cache) and is
    keyed by a hash of the library source, so a change to the models retrains it.
    """
    from tests.tiny_model import build_tiny_model

    library = _library_hash()
    final = _cache_root() / f"tiny-{library}"
    if not (final / "model.json").is_file():
        with _build_lock(final):
            if not (final / "model.json").is_file():
                def build(folder: Path) -> None:
                    build_tiny_model(folder)
                    shutil.rmtree(folder / "runs", ignore_errors=True)

                _build_into(final, build, {"library": library, "torch": torch.__version__})
    return final


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return tiny_model_dir()


@pytest.fixture(scope="session")
def second_model(tiny_model: Path) -> Path:
    """A second model on the tiny model's autoencoder with a GAE of its own (tests.tiny_model.build_second_model)."""
    import inspect

    from tests.tiny_model import build_second_model

    return cached_dir("tiny-b", sources=_MODEL_SOURCES, key=inspect.getsource(build_second_model) + str(tiny_model),
                      build=lambda out: build_second_model(tiny_model, out))
