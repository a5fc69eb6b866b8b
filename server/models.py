"""`diffusegae models`: register, list and remove the models of a deployment (diffusegae.registry, on its store)."""

from __future__ import annotations

import argparse
import json
import os

from core.settings import Settings


def registry_of(args: argparse.Namespace):
    """The registry the deployment's workers read: its shipped folders, and its store (DGAE_STORE_URL, else the
    folder --store / DGAE_STORE_DIR)."""
    from core.store import Store
    from diffusegae.registry import ModelRegistry

    if args.store is not None:
        os.environ["DGAE_STORE_DIR"] = str(args.store.resolve())
    settings = Settings()
    return ModelRegistry(settings.shipped_models(), Store.of(settings).blobs, settings.model_cache)


def cmd_add(args: argparse.Namespace) -> None:
    model = registry_of(args).add(args.folder, args.name)
    print(f"registered {model.name} (content {model.content}); a running service serves it within seconds, no restart")


def cmd_list(args: argparse.Namespace) -> None:
    for m in registry_of(args).models().values():
        print(json.dumps({"name": m.name, "shipped": m.shipped, "folder": str(m.folder) if m.folder else None,
                          "content": m.content or None, "error": m.error or None}))


def cmd_remove(args: argparse.Namespace) -> None:
    registry_of(args).remove(args.name)
    print(f"removed {args.name}: its images can no longer be edited (DELETE /api/models/{args.name} refuses while "
          "images or jobs use it)")


def add(sub: argparse._SubParsersAction) -> None:
    from pathlib import Path

    p = sub.add_parser("models", help="register, list or remove the models a deployment serves")
    msub = p.add_subparsers(dest="models_command", required=True)
    store_help = "the deployment's store folder (default: DGAE_STORE_DIR; with DGAE_STORE_URL set, that bucket)"
    a = msub.add_parser("add", help="check a model folder and put it in the deployment's store (served without a "
                        "restart)")
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
