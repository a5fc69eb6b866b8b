"""`diffusegae`, the installed command: the library's commands plus `serve`, `api` and `worker`.

The library (`diffusegae.cli`) knows nothing of the service; this module layers the service's
commands on top of its parser, and imports the web and worker code only when one of them runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diffusegae import cli as library_cli
from server.ports import env_port


def add_service_commands(sub: argparse._SubParsersAction) -> None:
    def run(name: str):
        def go(args: argparse.Namespace) -> None:
            from server import supervisor

            getattr(supervisor, name)(args)

        return go

    port_help = "TCP port (default: DGAE_PORT, else 8000)"
    p = sub.add_parser("serve", help="API + an embedded worker serving every registered model (local mode)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=env_port(), help=port_help)
    p.add_argument("--model", type=Path, default=None, help="the default model's folder (default: DGAE_MODEL_DIR, else "
                   "models/vehicles-64); the models in models/ and the registered ones are served too")
    p.set_defaults(func=run("serve"))
    p = sub.add_parser("api", help="the FastAPI app alone (scaled mode)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=env_port(), help=port_help)
    p.set_defaults(func=run("api"))
    p = sub.add_parser("worker", help="one Celery worker process (scaled mode; one per GPU)")
    p.add_argument("--model", type=Path, default=None, help="the default model's folder (default: DGAE_MODEL_DIR)")
    p.add_argument("--models", default=None, help="the models it serves: comma-separated names, all, or none "
                   "(default: DGAE_WORKER_MODELS, else all)")
    p.add_argument("--train", action="store_true", help="also run trainings (POST /api/trainings); with --models none, "
                   "only trainings (DGAE_WORKER_TRAIN)")
    p.set_defaults(func=run("worker"))


def main(argv: list[str] | None = None) -> None:
    from server import models

    library_cli.run(library_cli.build_parser(add_service_commands, models.add), argv)


if __name__ == "__main__":
    main(sys.argv[1:])
