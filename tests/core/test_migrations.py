"""Migrations are plain SQL applied by yoyo: repeatable, recorded, and the schema enforces the key rules."""

from __future__ import annotations

import asyncpg
import pytest

from service.core.migrate import apply_migrations, yoyo_url
from service.core.resources import migrations_dir


def test_applying_again_does_nothing(database_url: str) -> None:
    assert apply_migrations(database_url) == []


async def test_every_migration_file_is_recorded(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        applied = {r["migration_id"] for r in await conn.fetch("SELECT migration_id FROM _yoyo_migration")}
    finally:
        await conn.close()
    assert applied == {p.stem for p in migrations_dir().glob("*.sql")}


def test_yoyo_url_accepts_only_postgresql() -> None:
    assert yoyo_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ValueError, match="postgresql"):
        yoyo_url("mysql://u@h/db")


async def test_a_record_is_linked_to_at_most_one_holder(conn: asyncpg.Connection) -> None:
    indexes = {r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'links'")}
    assert "links_active_record" in indexes
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("INSERT INTO facilities (code, name, type) VALUES ('123', 'x', 'clinic')")
