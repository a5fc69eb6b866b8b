#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (idempotent) into the project's own
# virtualenv, and makes sure Redis answers at DGAE_REDIS_URL (default redis://127.0.0.1:6379/0;
# scripts/redis.sh starts a local one if nothing answers).
#
# The virtualenv is DGAE_VENV (default .venv in the repository), made with DGAE_PYTHON (default: the
# first python3 on PATH) and reused when present; nothing is installed into that interpreter itself, so
# a stock Debian/Ubuntu Python (PEP 668, "externally-managed-environment") works. Activate it with
# `source .venv/bin/activate` to use the `diffusegae` command outside the scripts.
# Usage: [DGAE_PYTHON=/usr/bin/python3] [DGAE_REDIS_URL=...] bash scripts/setup.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh

want_browser=0
[[ "${1:-}" == "--browser" ]] && want_browser=1
base_python="${DGAE_PYTHON:-python3}"

apt_pkgs=()
command -v redis-server >/dev/null || apt_pkgs+=(redis-server)  # brings redis-tools (redis-cli)
command -v redis-server >/dev/null && ! command -v redis-cli >/dev/null && apt_pkgs+=(redis-tools)
if (( want_browser )) && ! command -v chromium >/dev/null; then apt_pkgs+=(chromium chromium-driver); fi
# Debian's and Ubuntu's python3 make virtualenvs only with python3-venv (ensurepip) installed.
if [[ ! -x "$DGAE_VENV/bin/python" ]] && ! "$base_python" -c "import ensurepip, venv" 2>/dev/null; then
  apt_pkgs+=(python3-venv)
fi
if (( ${#apt_pkgs[@]} )); then
  echo "setup: installing ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
fi

if [[ ! -x "$DGAE_VENV/bin/python" ]]; then
  echo "setup: making the virtualenv $DGAE_VENV with $("$base_python" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  "$base_python" -m venv "$DGAE_VENV"
fi
py="$DGAE_VENV/bin/python"
# torch is pinned exactly: a looser pin pulls the CUDA build.
"$py" -m pip install -q --disable-pip-version-check torch==2.13.0
extras="dev"
(( want_browser )) && extras="dev,ui-test"
"$py" -m pip install -q --disable-pip-version-check -e ".[${extras}]"

# Redis at DGAE_REDIS_URL (default redis://127.0.0.1:6379/0): pinged, and started here only if it does not
# answer and is on this machine.
bash scripts/redis.sh
# With DGAE_STORE_URL=s3://... and a DGAE_S3_ENDPOINT on this machine: SeaweedFS there (scripts/seaweed.sh).
DGAE_VENV="$DGAE_VENV" bash scripts/seaweed.sh
echo "setup: done (virtualenv $DGAE_VENV; 'source $DGAE_VENV/bin/activate' puts diffusegae on PATH)"
