"""Process-level set-up shared by the server, the admin command and the demo: servers, migrations, a pool."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import ValidationError

from service.authority.ca import CertificateAuthority
from service.core.database import Connection, create_pool
from service.core.embedded import resolve_urls, start_postgres
from service.core.migrate import apply_migrations
from service.core.settings import Settings, get_settings


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded PostgreSQL under the data directory."""
    return settings.database_url or start_postgres(settings.data_dir)


def prepare(settings: Settings, *, with_redis: bool = True) -> Settings:
    """Start whatever embedded servers are needed, apply migrations, return settings naming both servers."""
    redis_url: str | None = settings.redis_url
    if with_redis:
        db_url, redis_url = resolve_urls(
            database_url=settings.database_url, redis_url=settings.redis_url, data_dir=settings.data_dir
        )
    else:
        db_url = database_url(settings)
    apply_migrations(db_url)
    return settings.model_copy(update={"database_url": db_url, "redis_url": redis_url})


def load_authority(settings: Settings) -> CertificateAuthority:
    """The authority's key and certificate (generated on first use outside production)."""
    return CertificateAuthority.load_or_create(
        settings.authority_path, allow_create=settings.may_create_authority, name=settings.authority_name
    )


@asynccontextmanager
async def connection(settings: Settings) -> AsyncIterator[Connection]:
    """One connection in one transaction (commit on success), for command-line work."""
    assert settings.database_url is not None
    pool = await create_pool(settings.database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            yield conn
    finally:
        await pool.close()


def settings_or_exit() -> Settings:
    """The settings; what is missing (production) is printed one line each, without a traceback."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            for line in str(error.get("ctx", {}).get("error", error["msg"])).splitlines():
                print(f"onshi: cannot start: {line}", file=sys.stderr)
        raise SystemExit(2) from None
