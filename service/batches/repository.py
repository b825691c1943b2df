"""All SQL of batches: the batch row, its raw chunks, its row errors and its counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from pydantic import ConfigDict

from service.batches.fields import RowError
from service.batches.schemas import BatchProgress
from service.core.database import Connection


class BatchRow(BatchProgress):
    """A batch and its progress (the columns its status shows are declared in `BatchProgress`)."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    kind: str
    owner: str
    insurer_number: str | None
    idempotency_key: str
    body_sha256: bytes | None
    media_type: str
    charset: str
    body_bytes: int
    status: str  # "receiving" too, which the status route shows as "queued"


@dataclass(frozen=True, slots=True)
class StepCounts:
    """What one processing step adds to a batch's counters."""

    last_row: int
    accepted: int
    rejected: int
    linked: int = 0
    needs_review: int = 0
    ambiguous: int = 0


_COLUMNS = ", ".join(BatchRow.model_fields)


def _batch(row: asyncpg.Record | None) -> BatchRow | None:
    return None if row is None else BatchRow(**row)


async def insert_receiving(
    conn: Connection, *, kind: str, owner: str, insurer_number: str | None, idempotency_key: str,
    media_type: str, charset: str,
) -> UUID | None:
    """Claim the idempotency key for a new batch; None when the key is taken (waits for a concurrent claim)."""
    value = await conn.fetchval(
        "INSERT INTO batches (kind, owner, insurer_number, idempotency_key, media_type, charset) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (owner, kind, idempotency_key) DO NOTHING RETURNING id",
        kind, owner, insurer_number, idempotency_key, media_type, charset,
    )
    return value if value is None else UUID(str(value))


async def find_by_key(conn: Connection, *, owner: str, kind: str, idempotency_key: str) -> BatchRow | None:
    """The batch created with this key."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM batches WHERE owner = $1 AND kind = $2 AND idempotency_key = $3",
        owner, kind, idempotency_key,
    )
    return _batch(row)


async def insert_chunk(conn: Connection, *, batch_id: UUID, seq: int, data: bytes) -> None:
    """Store one piece of the uploaded body."""
    await conn.execute("INSERT INTO batch_chunks (batch_id, seq, data) VALUES ($1, $2, $3)", batch_id, seq, data)


async def mark_queued(
    conn: Connection, *, batch_id: UUID, body_sha256: bytes, body_bytes: int, chunks: int, rows_total: int
) -> None:
    """The body is stored: the batch waits for the worker."""
    await conn.execute(
        "UPDATE batches SET status = 'queued', body_sha256 = $2, body_bytes = $3, chunks = $4, rows_total = $5 "
        "WHERE id = $1",
        batch_id, body_sha256, body_bytes, chunks, rows_total,
    )


async def get(conn: Connection | asyncpg.Pool, *, batch_id: UUID, owner: str) -> BatchRow | None:
    """A batch of this owner."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM batches WHERE id = $1 AND owner = $2", batch_id, owner)
    return _batch(row)


async def claim_next(conn: Connection, *, worker_id: UUID, lease_seconds: float) -> BatchRow | None:
    """Lease the oldest queued batch, or a running one whose lease ran out (its worker stopped or died)."""
    row = await conn.fetchrow(
        f"UPDATE batches SET status = 'running', started_at = coalesce(started_at, now()), lease_owner = $1, "
        f"lease_until = now() + make_interval(secs => $2) "
        f"WHERE id = (SELECT id FROM batches WHERE status = 'queued' "
        f"   OR (status = 'running' AND (lease_until IS NULL OR lease_until < now())) "
        f"   ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1) "
        f"RETURNING {_COLUMNS}",
        worker_id, lease_seconds,
    )
    return _batch(row)


async def renew_lease(pool: asyncpg.Pool, *, batch_id: UUID, worker_id: UUID, lease_seconds: float) -> bool:
    """Extend this worker's lease on a running batch; False when another worker holds it now."""
    value = await pool.fetchval(
        "UPDATE batches SET lease_until = now() + make_interval(secs => $3) "
        "WHERE id = $1 AND lease_owner = $2 AND status = 'running' RETURNING true",
        batch_id, worker_id, lease_seconds,
    )
    return value is True


async def release_leases(pool: asyncpg.Pool, *, worker_id: UUID) -> None:
    """A stopping worker's running batches may be taken over at once by the next worker."""
    await pool.execute(
        "UPDATE batches SET lease_until = now() WHERE lease_owner = $1 AND status = 'running'", worker_id
    )


async def lock_progress(conn: Connection, *, batch_id: UUID) -> tuple[UUID | None, int]:
    """(lease owner, rows processed) of a batch, locked until the step's transaction ends."""
    row = await conn.fetchrow(
        "SELECT lease_owner, rows_processed FROM batches WHERE id = $1 FOR UPDATE", batch_id
    )
    assert row is not None
    return row["lease_owner"], row["rows_processed"]


async def read_chunk(conn: Connection | asyncpg.Pool, *, batch_id: UUID, seq: int) -> bytes | None:
    """One stored piece of the body."""
    value = await conn.fetchval("SELECT data FROM batch_chunks WHERE batch_id = $1 AND seq = $2", batch_id, seq)
    return None if value is None else bytes(value)


async def insert_errors(conn: Connection, *, batch_id: UUID, errors: Sequence[RowError]) -> None:
    """Store row errors in one COPY."""
    if errors:
        await conn.copy_records_to_table(
            "batch_errors", columns=("batch_id", "row", "field", "error", "detail"),
            records=[(batch_id, e.row, e.field, e.error, e.detail) for e in errors],
        )


async def add_step(conn: Connection, *, batch_id: UUID, counts: StepCounts) -> None:
    """Advance the counters of a step (in the step's transaction)."""
    await conn.execute(
        "UPDATE batches SET rows_processed = $2, rows_accepted = rows_accepted + $3, "
        "rows_rejected = rows_rejected + $4, linked = linked + $5, needs_review = needs_review + $6, "
        "ambiguous = ambiguous + $7 WHERE id = $1",
        batch_id, counts.last_row, counts.accepted, counts.rejected, counts.linked, counts.needs_review,
        counts.ambiguous,
    )


async def finish(conn: Connection, *, batch_id: UUID, status: str, failure: str | None) -> None:
    """Done or failed; the raw body is deleted either way (nothing of it is kept beyond processing)."""
    await conn.execute(
        "UPDATE batches SET status = $2, failure = $3, finished_at = now(), lease_owner = NULL, lease_until = NULL, "
        "rows_total = greatest(coalesce(rows_total, 0), rows_processed) WHERE id = $1",
        batch_id, status, failure,
    )
    await conn.execute("DELETE FROM batch_chunks WHERE batch_id = $1", batch_id)


async def requeue_failed(conn: Connection, *, batch_id: UUID) -> int | None:
    """A failed batch uploaded again: make it resume after its last committed row (returned; None if not failed).

    Its body is stored again by the caller. Errors written when it failed (the header's, at row 0) go: the
    header is checked afresh. Errors of committed rows stay, as do their counts.
    """
    value = await conn.fetchval(
        "UPDATE batches SET status = 'receiving', failure = NULL, finished_at = NULL, rows_total = NULL "
        "WHERE id = $1 AND status = 'failed' RETURNING rows_processed",
        batch_id,
    )
    if value is None:
        return None
    await conn.execute("DELETE FROM batch_errors WHERE batch_id = $1 AND (row = 0 OR row > $2)", batch_id, value)
    await conn.execute("DELETE FROM batch_chunks WHERE batch_id = $1", batch_id)
    return int(value)


async def list_errors(
    conn: Connection | asyncpg.Pool, *, batch_id: UUID, offset: int, limit: int
) -> list[dict[str, object]]:
    """Row errors in row order, a page at a time."""
    rows = await conn.fetch(
        "SELECT row, field, error, detail FROM batch_errors WHERE batch_id = $1 ORDER BY row, field NULLS FIRST "
        "OFFSET $2 LIMIT $3",
        batch_id, offset, limit,
    )
    return [dict(r.items()) for r in rows]
