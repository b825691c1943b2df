"""All SQL of the audit trail."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.core.database import Connection

GENESIS = bytes(32)

# onshi_audit_append (migration 0009) locks a shard's head, advances it and appends the entry hashed onto the
# previous head: the only way the service's role may write the trail. Parameters: $1 shard, $2 entry text, $3 time
# of the entry. Other statements may continue this one (`WITH <APPEND_CTE> <their statement reading from
# appended>`) so that an action and its audit entry are written together, or neither; `appended` is empty when
# the shard has no head row.
APPEND_CTE = """
audited AS (
    SELECT onshi_audit_append($1::smallint, $2::text, $3::timestamptz) AS seq
), appended AS (
    SELECT seq FROM audited WHERE seq IS NOT NULL
)"""
_APPEND = f"WITH {APPEND_CTE} SELECT seq FROM appended"


class MissingShardHead(RuntimeError):
    """A shard's head row is gone: the trail was tampered with, and nothing more is written to it."""


async def append(conn: Connection, *, shard: int, entry: str, at: datetime) -> int:
    """Append to a shard's chain; returns the entry's sequence number."""
    seq = await conn.fetchval(_APPEND, shard, entry, at)
    if seq is None:
        raise MissingShardHead(f"audit shard {shard} has no head row")
    return int(seq)


async def create_heads(conn: Connection, shards: int) -> None:
    """The genesis head of every shard that has none (a fresh trail; migration 0007 makes them)."""
    await conn.execute(
        "INSERT INTO audit_heads (shard, seq, head) SELECT s, 0, $2 FROM generate_series(0, $1 - 1) AS s "
        "ON CONFLICT (shard) DO NOTHING", shards, GENESIS,
    )


async def shards(conn: Connection) -> list[asyncpg.Record]:
    """Every shard's head."""
    return list(await conn.fetch("SELECT shard, seq, head FROM audit_heads ORDER BY shard"))


async def checkpoints(conn: Connection) -> dict[int, tuple[int, bytes]]:
    """Per shard, the last entry that retention dropped (the chain continues from its hash)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (shard) shard, seq, entry_hash FROM audit_checkpoints ORDER BY shard, seq DESC"
    )
    return {row["shard"]: (row["seq"], bytes(row["entry_hash"])) for row in rows}


async def entries(conn: Connection, *, shard: int, after: int, limit: int) -> list[asyncpg.Record]:
    """A page of a shard's chain, in order (across monthly partitions)."""
    return list(await conn.fetch(
        "SELECT seq, entry, prev_hash, entry_hash FROM audit_log WHERE shard = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        shard, after, limit,
    ))


async def entry_hash(conn: Connection, *, shard: int, seq: int) -> bytes | None:
    """The hash of one entry of a shard's chain, if it is there."""
    found = await conn.fetchval("SELECT entry_hash FROM audit_log WHERE shard = $1 AND seq = $2", shard, seq)
    return None if found is None else bytes(found)
