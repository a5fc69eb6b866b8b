#!/usr/bin/env bash
# Sets up (Redis, Chromium, Python packages) and runs the whole test suite: model core, service, browser UI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
# The tests use the Redis at DGAE_TEST_REDIS_URL (default redis://127.0.0.1:6379/12), which may be another one.
DGAE_REDIS_URL="${DGAE_TEST_REDIS_URL:-redis://127.0.0.1:6379/12}" bash scripts/redis.sh
ruff check .
export OMP_NUM_THREADS=1
# Two test processes (pytest-xdist): while one waits on a worker, a browser or Redis, the other computes.
exec python3 -m pytest -q -n "${DGAE_TEST_PROCESSES:-2}" "$@"
