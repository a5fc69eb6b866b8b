"""`diffusegae models`: the models a deployment serves besides its shipped ones (diffusegae.registry)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from diffusegae.commands.common import SHIPPED_MODELS, default_model

CHECKOUT_STORE = SHIPPED_MODELS.parent / "var" / "store"


def registry_of(args: argparse.Namespace):
    """The registry the service reads: shipped = DGAE_MODEL_DIR and DGAE_MODELS_DIR (else the checkout's models/),
    registered models under <store>/models (--store, else DGAE_STORE_DIR, else the checkout's var/store)."""
    from diffusegae.registry import ModelRegistry

    store = args.store or Path(os.environ.get("DGAE_STORE_DIR") or CHECKOUT_STORE)
    shipped = [default_model(), Path(os.environ.get("DGAE_MODELS_DIR") or SHIPPED_MODELS)]
    return ModelRegistry(shipped, store / "models")


def cmd_add(args: argparse.Namespace) -> None:
    model = registry_of(args).add(args.folder, args.name)
    print(f"registered {model.name} ({model.folder}); a running service serves it within seconds, no restart")


def cmd_list(args: argparse.Namespace) -> None:
    for m in registry_of(args).models().values():
        print(json.dumps({"name": m.name, "folder": str(m.folder), "shipped": m.shipped, "error": m.error or None}))


def cmd_remove(args: argparse.Namespace) -> None:
    registry_of(args).remove(args.name)
    print(f"removed {args.name}; images encoded with it can no longer be edited (DELETE /api/models/{args.name} "
          "refuses while images or jobs use it)")


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="register, list or remove the models a deployment serves")
    msub = p.add_subparsers(dest="models_command", required=True)
    store_help = "the deployment's store folder (default: DGAE_STORE_DIR, else var/store of this checkout)"
    a = msub.add_parser("add", help="check a model folder and copy it into the registry (served without a restart)")
    a.add_argument("folder", type=Path)
    a.add_argument("--name", default=None, help="register under this name (default: model.json's)")
    a.add_argument("--store", type=Path, default=None, help=store_help)
    a.set_defaults(func=cmd_add)
    ls = msub.add_parser("list", help="every model the deployment knows, one JSON object per line")
    ls.add_argument("--store", type=Path, default=None, help=store_help)
    ls.set_defaults(func=cmd_list)
    r = msub.add_parser("remove", help="delete a registered model (shipped ones stay)")
    r.add_argument("name")
    r.add_argument("--store", type=Path, default=None, help=store_help)
    r.set_defaults(func=cmd_remove)
