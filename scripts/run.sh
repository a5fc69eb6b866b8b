#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh: the .venv virtualenv, Redis) and starts the app (API + embedded
# Celery worker) with the default model on http://127.0.0.1:8000. Extra arguments go to `diffusegae serve`:
# --port 8080 (or DGAE_PORT=8080), --host 0.0.0.0, --model models/toys-32.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/venv.sh
exec diffusegae serve "$@"
