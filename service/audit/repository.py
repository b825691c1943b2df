"""All SQL of the audit trail."""

from __future__ import annotations

import asyncpg

GENESIS = bytes(32)

# One statement: lock the shard's head, advance it, and append the entry hashed onto the previous head.
_APPEND = """
WITH old AS (SELECT shard, seq, head FROM audit_heads WHERE shard = $1 FOR UPDATE),
moved AS (
    UPDATE audit_heads h SET seq = old.seq + 1, head = sha256(old.head || convert_to($2, 'UTF8'))
    FROM old WHERE h.shard = old.shard
    RETURNING h.seq, old.head AS prev_hash, h.head AS entry_hash
)
INSERT INTO audit_log (shard, seq, entry, prev_hash, entry_hash)
SELECT $1, seq, $2, prev_hash, entry_hash FROM moved
RETURNING seq
"""


async def append(conn: asyncpg.Connection, *, shard: int, entry: str) -> int:
    """Append to a shard's chain; returns the entry's sequence number."""
    seq = await conn.fetchval(_APPEND, shard, entry)
    if seq is None:  # the shard has no head yet: create it, then append (never drop the entry)
        await conn.execute(
            "INSERT INTO audit_heads (shard, seq, head) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING", shard, GENESIS
        )
        seq = await conn.fetchval(_APPEND, shard, entry)
    return int(seq)


async def shards(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every shard's head."""
    return list(await conn.fetch("SELECT shard, seq, head FROM audit_heads ORDER BY shard"))


async def entries(conn: asyncpg.Connection, *, shard: int, after: int, limit: int) -> list[asyncpg.Record]:
    """A page of a shard's chain, in order."""
    return list(await conn.fetch(
        "SELECT seq, entry, prev_hash, entry_hash FROM audit_log WHERE shard = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        shard, after, limit,
    ))
