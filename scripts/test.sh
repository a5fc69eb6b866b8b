#!/usr/bin/env bash
# Sets up (the .venv virtualenv, Redis, Chromium) and runs the whole test suite in that virtualenv:
# model core, service, browser UI. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
source scripts/venv.sh
# The tests use the Redis at DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12), which may be another one.
DGAE_REDIS_URL="${DGAE_TEST_REDIS_URL:-redis://127.0.0.1:6379/12}" bash scripts/redis.sh
ruff check .
export OMP_NUM_THREADS=1
# Two test processes (pytest-xdist): while one waits on a worker, a browser or Redis, the other computes.
exec python -m pytest -q -n "${DGAE_TEST_PROCESSES:-2}" "$@"
