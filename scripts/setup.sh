#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (idempotent) and makes sure
# Redis is running on 127.0.0.1:6379. Usage: bash scripts/setup.sh [--browser]
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[[ "${1:-}" == "--browser" ]] && want_browser=1

apt_pkgs=()
command -v redis-server >/dev/null || apt_pkgs+=(redis-server)
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

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "setup: starting redis-server on 127.0.0.1:6379"
  mkdir -p /tmp/diffusegae-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/diffusegae-redis --logfile /tmp/diffusegae-redis/redis.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
echo "setup: done"
