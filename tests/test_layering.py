"""The layers import only downwards: the library knows no web or queue code, core no API, worker or torch,
the API no torch. Checked by importing each layer in a fresh interpreter where the forbidden modules
cannot be imported at all (as on a machine where they are not installed)."""

import subprocess
import sys

import pytest

_BLOCK = """
import importlib.abc, importlib.util, pkgutil, sys
BLOCKED = set(sys.argv[1].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Block())
for package in sys.argv[2].split(","):
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), package + "."):
        importlib.import_module(info.name)
print("imported")
"""

WEB_AND_QUEUE = "fastapi,starlette,uvicorn,redis,celery,kombu,pydantic_settings,backend,worker,core,server"


@pytest.mark.parametrize(("packages", "blocked"), [
    ("diffusegae", WEB_AND_QUEUE),
    ("core", "fastapi,starlette,uvicorn,torch,diffusegae,backend,worker,server"),
    ("backend", "torch,diffusegae,worker,server"),
    ("worker", "fastapi,starlette,uvicorn,backend,server"),
])
def test_layer_imports_without_the_layers_above_it(packages, blocked):
    r = subprocess.run([sys.executable, "-c", _BLOCK, blocked, packages], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "imported" in r.stdout, r.stderr[-2000:]


def test_library_cli_runs_without_the_service_installed():
    code = _BLOCK.replace('print("imported")', 'from diffusegae.cli import main\nmain(["--help"])')
    r = subprocess.run([sys.executable, "-c", code, WEB_AND_QUEUE, "diffusegae.data"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "dataset" in r.stdout, r.stderr[-2000:]
