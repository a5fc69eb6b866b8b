#!/usr/bin/env bash
# Sets everything up and starts the app (API + embedded Celery worker) with the default model
# on http://127.0.0.1:8000. Extra arguments go to `diffusegae serve` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec diffusegae serve "$@"
