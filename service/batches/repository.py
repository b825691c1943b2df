"""All SQL of batches: the batch row, its raw chunks, its row errors and its counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from service.batches.rows import RowError


@dataclass(frozen=True, slots=True)
class BatchRow:
    """A batch and its progress."""

    id: UUID
    kind: str
    owner: str
    insurer_number: str | None
    idempotency_key: str
    body_sha256: bytes | None
    media_type: str
    charset: str
    body_bytes: int
    status: str
    rows_total: int | None
    rows_processed: int
    rows_accepted: int
    rows_rejected: int
    linked: int
    needs_review: int
    ambiguous: int
    failure: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class StepCounts:
    """What one processing step adds to a batch's counters."""

    last_row: int
    accepted: int
    rejected: int
    linked: int = 0
    needs_review: int = 0
    ambiguous: int = 0


_COLUMNS = (
    "id, kind, owner, insurer_number, idempotency_key, body_sha256, media_type, charset, body_bytes, status, "
    "rows_total, rows_processed, rows_accepted, rows_rejected, linked, needs_review, ambiguous, failure, "
    "created_at, started_at, finished_at"
)


def _batch(row: asyncpg.Record | None) -> BatchRow | None:
    return None if row is None else BatchRow(*row.values())


async def insert_receiving(
    conn: asyncpg.Connection, *, kind: str, owner: str, insurer_number: str | None, idempotency_key: str,
    media_type: str, charset: str,
) -> UUID | None:
    """Claim the idempotency key for a new batch; None when the key is taken (waits for a concurrent claim)."""
    value = await conn.fetchval(
        "INSERT INTO batches (kind, owner, insurer_number, idempotency_key, media_type, charset) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner, kind, idempotency_key) DO NOTHING RETURNING id",
        kind, owner, insurer_number, idempotency_key, media_type, charset,
    )
    return value if value is None else UUID(str(value))


async def find_by_key(conn: asyncpg.Connection, *, owner: str, kind: str, idempotency_key: str) -> BatchRow | None:
    """The batch created with this key."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM batches WHERE owner = $1 AND kind = $2 AND idempotency_key = $3",
        owner, kind, idempotency_key,
    )
    return _batch(row)


async def insert_chunk(conn: asyncpg.Connection, *, batch_id: UUID, seq: int, data: bytes) -> None:
    """Store one piece of the uploaded body."""
    await conn.execute("INSERT INTO batch_chunks (batch_id, seq, data) VALUES ($1, $2, $3)", batch_id, seq, data)


async def mark_queued(
    conn: asyncpg.Connection, *, batch_id: UUID, body_sha256: bytes, body_bytes: int, chunks: int, rows_total: int
) -> None:
    """The body is stored: the batch waits for the worker."""
    await conn.execute(
        "UPDATE batches SET status = 'queued', body_sha256 = $2, body_bytes = $3, chunks = $4, rows_total = $5 "
        "WHERE id = $1",
        batch_id, body_sha256, body_bytes, chunks, rows_total,
    )


async def get(conn: asyncpg.Connection | asyncpg.Pool, *, batch_id: UUID, owner: str) -> BatchRow | None:
    """A batch of this owner."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM batches WHERE id = $1 AND owner = $2", batch_id, owner)
    return _batch(row)


async def claim_next(conn: asyncpg.Connection, *, stale_seconds: float) -> BatchRow | None:
    """Take the oldest queued batch, or a running one whose worker stopped sending heartbeats."""
    row = await conn.fetchrow(
        f"UPDATE batches SET status = 'running', started_at = coalesce(started_at, now()), heartbeat_at = now() "
        f"WHERE id = (SELECT id FROM batches WHERE status = 'queued' "
        f"   OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => $1)) "
        f"   ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1) "
        f"RETURNING {_COLUMNS}",
        stale_seconds,
    )
    return _batch(row)


async def read_chunk(conn: asyncpg.Connection | asyncpg.Pool, *, batch_id: UUID, seq: int) -> bytes | None:
    """One stored piece of the body."""
    value = await conn.fetchval("SELECT data FROM batch_chunks WHERE batch_id = $1 AND seq = $2", batch_id, seq)
    return None if value is None else bytes(value)


async def insert_errors(conn: asyncpg.Connection, *, batch_id: UUID, errors: Sequence[RowError]) -> None:
    """Store row errors in one COPY."""
    if errors:
        await conn.copy_records_to_table(
            "batch_errors", columns=("batch_id", "row", "field", "error", "detail"),
            records=[(batch_id, e.row, e.field, e.error, e.detail) for e in errors],
        )


async def add_step(conn: asyncpg.Connection, *, batch_id: UUID, counts: StepCounts) -> None:
    """Advance the counters after a committed step (and prove the worker is alive)."""
    await conn.execute(
        "UPDATE batches SET rows_processed = $2, rows_accepted = rows_accepted + $3, "
        "rows_rejected = rows_rejected + $4, linked = linked + $5, needs_review = needs_review + $6, "
        "ambiguous = ambiguous + $7, heartbeat_at = now() WHERE id = $1",
        batch_id, counts.last_row, counts.accepted, counts.rejected, counts.linked, counts.needs_review,
        counts.ambiguous,
    )


async def finish(conn: asyncpg.Connection, *, batch_id: UUID, status: str, failure: str | None) -> None:
    """Done or failed; the raw body is deleted either way (nothing of it is kept beyond processing)."""
    await conn.execute(
        "UPDATE batches SET status = $2, failure = $3, finished_at = now(), "
        "rows_total = greatest(coalesce(rows_total, 0), rows_processed) WHERE id = $1",
        batch_id, status, failure,
    )
    await conn.execute("DELETE FROM batch_chunks WHERE batch_id = $1", batch_id)


async def list_errors(
    conn: asyncpg.Connection | asyncpg.Pool, *, batch_id: UUID, offset: int, limit: int
) -> list[dict[str, object]]:
    """Row errors in row order, a page at a time."""
    rows = await conn.fetch(
        "SELECT row, field, error, detail FROM batch_errors WHERE batch_id = $1 ORDER BY row, field NULLS FIRST "
        "OFFSET $2 LIMIT $3",
        batch_id, offset, limit,
    )
    return [dict(r.items()) for r in rows]
