#!/usr/bin/env bash
# Sets up (Redis, Chromium, Python packages) and runs the whole test suite: model core, service, browser UI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
ruff check .
export OMP_NUM_THREADS=1
exec python3 -m pytest -q "$@"
