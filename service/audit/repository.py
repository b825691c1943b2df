"""All SQL of the audit trail."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.core.database import Connection

GENESIS = bytes(32)

# One UPDATE locks a shard's head and advances it (SET sees the old row, so `prev` takes the old head), and the
# entry is appended hashed onto that previous head. Parameters: $1 shard, $2 entry text, $3 time of the entry.
# Other statements may continue this one (`WITH <APPEND_CTE> <their statement reading from appended>`) so that
# an action and its audit entry are written together, or neither.
APPEND_CTE = """
advanced AS (
    UPDATE audit_heads SET seq = seq + 1, prev = head, head = sha256(head || convert_to($2::text, 'UTF8'))
    WHERE shard = $1::smallint
    RETURNING seq, prev, head
), appended AS (
    INSERT INTO audit_log (shard, seq, at, entry, prev_hash, entry_hash)
    SELECT $1::smallint, seq, $3::timestamptz, $2::text, prev, head FROM advanced
    RETURNING seq
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
