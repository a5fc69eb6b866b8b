"""Whether `serve` / `api` can listen on their port, and who holds it when they cannot."""

from __future__ import annotations

import errno
import os
import socket


def env_port(default: int = 8000) -> int:
    """DGAE_PORT, else `default`; a value that is no port ends the command with the variable named."""
    raw = os.environ.get("DGAE_PORT", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"DGAE_PORT={raw!r} is not a port (1-65535)")
    return int(raw)


def holder(port: int) -> str | None:
    """'pid N (command line)' of the process listening on `port`, when this user may see it."""
    import psutil

    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            try:
                cmd = " ".join(psutil.Process(c.pid).cmdline()) or psutil.Process(c.pid).name()
            except psutil.Error:
                return f"pid {c.pid}"
            return f"pid {c.pid} ({cmd[:80]})"
    return None


def check_free(host: str, port: int) -> None:
    """End the command with one line naming the port, its holder if known, and the flag, when it is taken.

    Checked before anything starts, so a taken port is never announced as the app's URL."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT does not count
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise SystemExit(f"cannot listen on {host}:{port}: {e.strerror}") from None
            who = holder(port)
            raise SystemExit(f"port {port} on {host} is taken{f' by {who}' if who else ''}: start on another with "
                             f"--port {8080 if port != 8080 else 8081} (or DGAE_PORT=...)") from None
