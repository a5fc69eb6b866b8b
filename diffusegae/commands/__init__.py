"""The library's commands (`server.cli` adds the service's): one module per command group, each declaring its
own arguments beside the functions that run them (`add(sub)`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from diffusegae.commands import calibrate, dataset, edit, evaluate, train
from diffusegae.commands.common import resolve_dataset

GROUPS = (train, dataset, edit, evaluate, calibrate)


def build_parser(*extensions: Callable[[argparse._SubParsersAction], None]) -> argparse.ArgumentParser:
    """The library's commands; each extension adds more subcommands (the service's, from `server.cli`)."""
    parser = argparse.ArgumentParser(prog="diffusegae", description="DiffuseGAE: attribute editing with a diffusion "
                                     "autoencoder and a group-supervised autoencoder.")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add(sub)
    for extend in extensions:
        extend(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> None:
    """Parse and run one command; known data and checkpoint errors end it with one line, not a trace."""
    args = parser.parse_args(argv)
    resolve_dataset(args)  # before the imports below (torch): a wrong command line is refused at once

    from diffusegae.checkpoint import CheckpointError
    from diffusegae.data.folder import DatasetError
    from diffusegae.registry import RegistryError

    try:
        args.func(args)
    except (CheckpointError, DatasetError, RegistryError) as e:
        raise SystemExit(f"error: {e}") from None


def main(argv: list[str] | None = None) -> None:
    run(build_parser(), argv)
