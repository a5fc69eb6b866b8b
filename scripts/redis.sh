#!/usr/bin/env bash
# Makes sure Redis answers at DGAE_REDIS_URL (default redis://127.0.0.1:6379/0); scripts/setup.sh runs it.
#
# Pings that host and port (with the URL's user and password, if any; the password is never printed
# and never put on a command line). Only if nothing answers and the host is this machine does it start
# `redis-server` there: no persistence, data and log in /tmp/diffusegae-redis-<port>/, pid in its
# redis.pid, and the URL's password (and user) required. A remote Redis that does not answer is an error.
# Needs redis-cli and redis-server (setup.sh installs them). Usage: [DGAE_REDIS_URL=...] bash scripts/redis.sh
set -euo pipefail

url="${DGAE_REDIS_URL:-redis://127.0.0.1:6379/0}"

# URL -> scheme, host, port, user, password, the URL without its password (for messages), NUL-separated.
parts=()
while IFS= read -r -d '' field; do parts+=("$field"); done < <(python3 - "$url" <<'PY'
import sys
from urllib.parse import unquote, urlsplit

url = sys.argv[1]
u = urlsplit(url)
if u.scheme not in ("redis", "rediss"):
    sys.exit(f"redis.sh: DGAE_REDIS_URL must be redis://[[user]:password@]host[:port][/db] or rediss://..., not {u.scheme}://")
try:
    port = u.port or 6379
except ValueError:
    sys.exit("redis.sh: DGAE_REDIS_URL has an invalid port")
host = u.hostname or "127.0.0.1"
user, password = unquote(u.username or ""), unquote(u.password or "")
shown = url if u.password is None else url.replace(f":{u.password}@", ":***@", 1)
sys.stdout.write("\0".join([u.scheme, host, str(port), user, password, shown]) + "\0")
PY
)
(( ${#parts[@]} == 6 )) || exit 1
scheme="${parts[0]}" host="${parts[1]}" port="${parts[2]}" user="${parts[3]}" password="${parts[4]}" shown="${parts[5]}"
unset parts

cli=(redis-cli -h "$host" -p "$port")
[[ "$scheme" == rediss ]] && cli+=(--tls)
[[ -n "$user" ]] && cli+=(--user "$user")

answers() {  # the password goes through the environment (REDISCLI_AUTH), not argv
  local reply
  if [[ -n "$password" ]]; then
    reply="$(REDISCLI_AUTH="$password" "${cli[@]}" --no-auth-warning ping 2>/dev/null)" || return 1
  else
    reply="$(env -u REDISCLI_AUTH "${cli[@]}" ping 2>/dev/null)" || return 1
  fi
  [[ "$reply" == PONG ]]
}

quote() {  # one argument of a redis.conf line: "...", with \ and " escaped
  local s="${1//\\/\\\\}"
  printf '"%s"' "${s//\"/\\\"}"
}

if answers; then
  echo "redis: $shown answers"
  exit 0
fi

case "$host" in
  127.*|localhost|::1) ;;
  *) echo "redis: nothing answers at $shown and it is not on this machine: start it there or set DGAE_REDIS_URL" >&2
     exit 1 ;;
esac
if [[ "$scheme" == rediss ]]; then
  echo "redis: nothing answers at $shown (TLS); this script starts only plain redis://" >&2
  exit 1
fi
if ! command -v redis-server >/dev/null; then
  echo "redis: nothing answers at $shown and redis-server is not installed (bash scripts/setup.sh installs it)" >&2
  exit 1
fi
bind="$host"
[[ "$bind" == localhost ]] && bind=127.0.0.1

dir="/tmp/diffusegae-redis-$port"
mkdir -p "$dir"
chmod 700 "$dir"
echo "redis: starting redis-server on $bind:$port (data and log in $dir)"
# The configuration (with any password) goes in on stdin ("-"), so it shows up in no process list.
{
  printf 'bind %s\nport %s\ndaemonize yes\nsave ""\nappendonly no\n' "$bind" "$port"
  printf 'dir %s\nlogfile %s\npidfile %s\n' "$dir" "$dir/redis.log" "$dir/redis.pid"
  if [[ -n "$user" && "$user" != default ]]; then
    printf 'user %s on %s ~* &* +@all\nuser default off\n' "$(quote "$user")" "$(quote ">$password")"
  elif [[ -n "$password" ]]; then
    printf 'requirepass %s\n' "$(quote "$password")"
  fi
} | redis-server -

for _ in $(seq 100); do answers && break; sleep 0.1; done
if ! answers; then
  echo "redis: redis-server did not come up on $bind:$port; its log: $dir/redis.log" >&2
  exit 1
fi
echo "redis: $shown answers"
