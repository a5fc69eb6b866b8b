#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (idempotent) and makes sure Redis
# answers at DGAE_REDIS_URL (default redis://127.0.0.1:6379/0; scripts/redis.sh starts a local one if
# nothing answers). Usage: [DGAE_REDIS_URL=...] bash scripts/setup.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[[ "${1:-}" == "--browser" ]] && want_browser=1

apt_pkgs=()
command -v redis-server >/dev/null || apt_pkgs+=(redis-server)  # brings redis-tools (redis-cli)
command -v redis-server >/dev/null && ! command -v redis-cli >/dev/null && apt_pkgs+=(redis-tools)
if (( want_browser )) && ! command -v chromium >/dev/null; then apt_pkgs+=(chromium chromium-driver); fi
if (( ${#apt_pkgs[@]} )); then
  echo "setup: installing ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${apt_pkgs[@]}" >/dev/null
fi

# torch is pinned exactly: a looser pin pulls the CUDA build.
python3 -m pip install -q torch==2.13.0
extras="dev"
(( want_browser )) && extras="dev,ui-test"
python3 -m pip install -q -e ".[${extras}]"

# Redis at DGAE_REDIS_URL (default redis://127.0.0.1:6379/0): pinged, and started here only if it does not
# answer and is on this machine.
bash scripts/redis.sh
echo "setup: done"
