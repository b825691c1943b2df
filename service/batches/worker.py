"""The batch worker: takes queued batches, processes them step by step, resumable after a crash.

Each step (a few thousand rows) is one transaction: its valid rows, its row errors and the batch counters are
committed together, so a restart resumes after the last committed row and accepted data is never lost.
Parsing and validation run in a worker thread, off the event loop that serves verifications, and overlap with
the database work of the previous step (at most two validated steps wait: memory stays bounded).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from service.batches import repository as repo
from service.batches.parsing import NDJSON, ParsedRow, RowReader, iter_rows, splitter_for
from service.batches.rows import RowError, check_header
from service.batches.sinks import Sink, sink_for
from service.core import metrics
from service.core.clock import clock
from service.core.logging import get_logger
from service.core.settings import Settings

log = get_logger(__name__)
STALE_SECONDS = 120.0


class HeaderRejected(Exception):
    """The CSV header misses required columns or has unknown ones: no row can be read."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("header rejected")
        self.errors = errors


@dataclass(slots=True)
class _Step:
    """Rows validated in one step."""

    valid: list[tuple[int, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    last_row: int = 0
    rows: int = 0


class BatchWorker:
    """Runs in the service process; several processes may run one each (rows are claimed with SKIP LOCKED)."""

    def __init__(self, *, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin polling for batches."""
        self._task = asyncio.create_task(self._run(), name="batch-worker")

    def wake(self) -> None:
        """A batch was queued: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop after the current step (its transaction either commits or rolls back)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                if not await self.run_once():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.batch_poll_seconds)
                    self._wake.clear()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("batch worker loop error")
                await asyncio.sleep(self.settings.batch_poll_seconds)

    async def run_once(self) -> bool:
        """Process one batch if any is waiting; True when one was processed."""
        async with self.pool.acquire() as conn:
            batch = await repo.claim_next(conn, stale_seconds=STALE_SECONDS)
        if batch is None:
            return False
        metrics.batches_in_flight.inc()
        try:
            await self._process(batch)
        finally:
            metrics.batches_in_flight.dec()
        return True

    async def _process(self, batch: repo.BatchRow) -> None:
        log.info("batch started", batch_id=str(batch.id), kind=batch.kind, resume_after=batch.rows_processed)
        try:
            await _BatchRun(self.pool, batch, self.settings).run()
        except HeaderRejected as exc:
            await self._fail(batch, "the header line is not usable: see errors at row 0", exc.errors)
            return
        except Exception as exc:
            log.exception("batch failed", batch_id=str(batch.id))
            await self._fail(batch, f"processing stopped: {type(exc).__name__}; rows before it are kept", [])
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.finish(conn, batch_id=batch.id, status="done", failure=None)
        log.info("batch done", batch_id=str(batch.id))

    async def _fail(self, batch: repo.BatchRow, failure: str, errors: list[RowError]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.insert_errors(conn, batch_id=batch.id, errors=errors)
            await repo.finish(conn, batch_id=batch.id, status="failed", failure=failure)


class _BatchRun:
    """One pass over a batch's chunks."""

    def __init__(self, pool: asyncpg.Pool, batch: repo.BatchRow, settings: Settings) -> None:
        self.pool = pool
        self.batch = batch
        self.sink: Sink = sink_for(batch.kind)
        self.reader = RowReader(media_type=batch.media_type, charset=batch.charset)
        self.splitter = splitter_for(batch.media_type)
        self.step_size = settings.batch_rows_per_step
        self.pending: list[ParsedRow] = []
        self.header_checked = batch.media_type == NDJSON
        self.steps: asyncio.Queue[_Step | None] = asyncio.Queue(maxsize=2)
        self.failure: BaseException | None = None

    async def run(self) -> None:
        applier = asyncio.create_task(self._apply_steps())
        try:
            seq = 0
            while (chunk := await repo.read_chunk(self.pool, batch_id=self.batch.id, seq=seq)) is not None:
                await self._take(self.splitter.feed(chunk))
                seq += 1
            await self._take(self.splitter.finish())
            await self._flush()
            await self.steps.put(None)
            await applier
        finally:
            if not applier.done():
                applier.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await applier
        if self.failure is not None:
            raise self.failure

    async def _take(self, records: list[bytes]) -> None:
        rows = await asyncio.to_thread(self._parse, records)
        for row in rows:
            self.pending.append(row)
            if len(self.pending) >= self.step_size:
                await self._flush()

    def _parse(self, records: list[bytes]) -> list[ParsedRow]:
        rows = [r for r in iter_rows(self.reader, records) if r.row > self.batch.rows_processed]
        if not self.header_checked and self.reader.header is not None:
            self.header_checked = True
            if errors := check_header(self.reader.header, kind=self.batch.kind):
                raise HeaderRejected(errors)
        return rows

    async def _flush(self) -> None:
        if not self.pending:
            return
        rows, self.pending = self.pending, []
        step = await asyncio.to_thread(self._validate, rows)
        if self.failure is not None:
            raise self.failure
        await self.steps.put(step)

    async def _apply_steps(self) -> None:
        """Apply validated steps in order; after a failure, only drain the queue (the producer stops)."""
        while (step := await self.steps.get()) is not None:
            if self.failure is None:
                try:
                    await self._apply(step)
                except Exception as exc:
                    self.failure = exc

    async def _apply(self, step: _Step) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            applied = await self.sink.apply(conn, batch=self.batch, rows=step.valid)
            errors = sorted([*step.errors, *applied.rejected], key=lambda e: e.row)
            await repo.insert_errors(conn, batch_id=self.batch.id, errors=errors)
            rejected_rows = len({e.row for e in errors})
            counts = repo.StepCounts(
                last_row=step.last_row, accepted=step.rows - rejected_rows, rejected=rejected_rows,
                linked=applied.linked, needs_review=applied.needs_review, ambiguous=applied.ambiguous,
            )
            await repo.add_step(conn, batch_id=self.batch.id, counts=counts)
        metrics.batch_rows.labels(self.batch.kind, "accepted").inc(counts.accepted)
        metrics.batch_rows.labels(self.batch.kind, "rejected").inc(counts.rejected)

    def _validate(self, rows: Sequence[ParsedRow]) -> _Step:
        step = _Step(last_row=rows[-1].row, rows=len(rows))
        today = clock.today_jst()
        for parsed in rows:
            if parsed.values is None:
                code, detail = parsed.problem or ("invalid_row", "the row could not be read")
                step.errors.append(RowError(row=parsed.row, field=None, error=code, detail=detail))
                continue
            if self.batch.media_type == NDJSON and (unknown := _ndjson_header_errors(parsed, self.batch.kind)):
                step.errors.extend(unknown)
                continue
            result = self.sink.validate(parsed.values, row=parsed.row, batch=self.batch, today=today)
            if isinstance(result, list):
                step.errors.extend(result)
            else:
                step.valid.append((parsed.row, result))
        return step


def _ndjson_header_errors(parsed: ParsedRow, kind: str) -> list[RowError]:
    assert parsed.values is not None
    errors = check_header(list(parsed.values), kind=kind, partial=True)
    return [RowError(row=parsed.row, field=e.field, error=e.error, detail=e.detail) for e in errors]
