"""`python -m diffusegae.cli`: the library's commands without the service's (diffusegae.commands holds them)."""

from __future__ import annotations

import sys

from diffusegae.commands import build_parser, main, run

__all__ = ["build_parser", "main", "run"]

if __name__ == "__main__":
    main(sys.argv[1:])
