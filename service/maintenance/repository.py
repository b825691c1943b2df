"""All SQL of partition upkeep (the partitioned tables belong to their domains; this only creates and drops months)."""

from __future__ import annotations

from datetime import date

import asyncpg

from service.core.database import Connection


async def create_months(conn: Connection, *, table: str, first: date, months: int) -> int:
    """Create the missing monthly partitions of `table` from `first` on; returns how many were made."""
    return int(await conn.fetchval("SELECT onshi_month_partitions($1, $2, $3)", table, first, months))


async def months(conn: Connection, table: str) -> list[asyncpg.Record]:
    """The monthly partitions of `table` (name, first day), oldest first; the DEFAULT partition is not one."""
    return list(await conn.fetch(
        "SELECT c.relname AS name, to_date(right(c.relname, 8), '\"y\"YYYY\"m\"MM') AS month "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = $1 AND c.relname ~ '_y[0-9]{4}m[0-9]{2}$' ORDER BY 2",
        table,
    ))


async def default_rows(conn: Connection, table: str) -> int:
    """Rows in the DEFAULT partition (of months that had no partition when they were written)."""
    return int(await conn.fetchval(f"SELECT count(*) FROM {table}_default"))  # table names are our own constants


async def checkpoint_audit(conn: Connection, *, partition: str, month: date) -> int:
    """Before a month of the audit trail is dropped: each shard's last entry in it, where verification resumes."""
    status = await conn.execute(
        "INSERT INTO audit_checkpoints (shard, seq, entry_hash, month) "
        f"SELECT DISTINCT ON (shard) shard, seq, entry_hash, $1 FROM {partition} ORDER BY shard, seq DESC "
        "ON CONFLICT (shard, seq) DO NOTHING",
        month,
    )
    return int(status.split()[-1])


async def drop(conn: Connection, partition: str) -> None:
    """Drop one monthly partition (its name comes from `months`, never from input)."""
    await conn.execute(f'DROP TABLE "{partition}"')
