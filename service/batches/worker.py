"""The batch worker: takes queued batches, processes them step by step, resumable after a crash.

Each step (a few thousand rows) is one transaction: its valid rows, its row errors and the batch counters are
committed together, so a restart resumes after the last committed row and accepted data is never lost.
Parsing and validation run in a worker thread, off the event loop that serves verifications, and overlap with
the database work of the previous step (at most one validated step waits: memory stays bounded).

Faults (docs/reliability.md):
- A worker holds a lease on its batch and renews it every third of `batch_lease_seconds`; a batch whose lease
  ran out (its process was killed) is taken over by the next worker within seconds. A stopping worker hands its
  batch over at once.
- Every step checks, in its own transaction, that this worker still holds the lease and that the step was not
  committed already (the answer to a COMMIT can be lost in a restart): a step is never applied twice.
- A transient database fault retries the step, with backoff, for `batch_retry_seconds`; a longer outage puts
  the batch off (the lease runs out and the batch is resumed later). A transient fault never fails a batch.
- Anything else fails the batch, keeping every committed row; uploading the same body again with the same
  Idempotency-Key resumes it after its last committed row.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import asyncpg

from service.batches import repository as repo
from service.batches.fields import RowError
from service.batches.header import Columns, check_header
from service.batches.parsing import NDJSON, ParsedRow, RowReader, splitter_for
from service.batches.sinks import Sink, Sinks, sink_for
from service.core import metrics
from service.core.clock import clock
from service.core.database import pooled
from service.core.faults import RetriesExhausted, is_transient, retry_transient
from service.core.logging import get_logger
from service.core.memory import release_freed_memory
from service.core.middleware import requests_per_second
from service.core.settings import Settings
from service.core.tasks import cancel_and_wait, raise_if_cancelling

log = get_logger(__name__)
T = TypeVar("T")


class HeaderRejected(Exception):
    """The CSV header misses required columns or has unknown ones: no row can be read."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("header rejected")
        self.errors = errors


class LeaseLost(Exception):
    """Another worker took the batch over (this one was presumed dead): stop without touching it."""


@dataclass(slots=True)
class _Step:
    """Rows validated in one step."""

    today: date
    valid: list[tuple[int, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    last_row: int = 0
    rows: int = 0


BUSY_REQUESTS_PER_SECOND = 20


class Pacer:
    """The batch worker's share of the time while the service answers requests.

    A 100,000-row batch is about 35 s of CPU (validation in the worker thread, then PostgreSQL applying the steps);
    run flat out on the cores that serve reception checks, it queued them for seconds (paced 250/s on 2 cores:
    p99 1.2 s while the batch ran, 20-50 ms before and after). After each piece of work (validating a step,
    applying one) the worker rests so that it works at most `share` of the time while the process answers
    requests (BUSY_REQUESTS_PER_SECOND or more in the last second: a batch's own status polling, a scrape or a
    few kiosks are not load); otherwise it does not rest.
    """

    def __init__(self, share: float, busy: Callable[[], bool] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.rest_per_second = (1 - share) / share
        self.busy = busy or (lambda: requests_per_second() >= BUSY_REQUESTS_PER_SECOND)
        self.sleep = sleep

    async def rest_after(self, worked: float) -> None:
        """Rest in proportion to `worked` seconds of work, if requests are being answered."""
        if self.rest_per_second and self.busy():
            await self.sleep(worked * self.rest_per_second)

    @contextlib.asynccontextmanager
    async def work(self) -> AsyncIterator[None]:
        """A piece of work, timed, followed by its rest."""
        started = time.monotonic()
        yield
        await self.rest_after(time.monotonic() - started)


class BatchWorker:
    """Runs in the service process; several processes may run one each (batches are leased with SKIP LOCKED)."""

    def __init__(self, *, pool: asyncpg.Pool, settings: Settings, sinks: Sinks) -> None:
        self.pool = pool
        self.settings = settings
        self.sinks = sinks
        self.worker_id = uuid.uuid4()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin polling for batches."""
        self._task = asyncio.create_task(self._run(), name="batch-worker")

    def wake(self) -> None:
        """A batch was queued: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Cancel the current step (it rolls back) and hand the batch over, within the shutdown grace period."""
        if self._task is None:
            return
        self._task.cancel()
        done, _ = await asyncio.wait({self._task}, timeout=self.settings.shutdown_grace_seconds)
        if not done:
            log.error("batch worker did not stop within the grace period")
        try:
            await asyncio.wait_for(repo.release_leases(self.pool, worker_id=self.worker_id), timeout=2)
        except Exception as exc:  # the lease then runs out by itself: the batch is resumed a little later
            log.warning("batch lease not handed over at shutdown", error=type(exc).__name__)

    async def _run(self) -> None:
        delay = self.settings.batch_poll_seconds
        while True:
            try:
                worked = await self.run_once()
                delay = self.settings.batch_poll_seconds
            except Exception as exc:
                raise_if_cancelling(exc)
                if is_transient(exc):
                    log.warning("batch worker waiting for the database", error=type(exc).__name__)
                else:
                    log.exception("batch worker loop error")
                worked, delay = False, min(delay * 2, 5.0)
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                self._wake.clear()

    async def run_once(self) -> bool:
        """Process one batch if any is waiting; True when one was processed."""
        async with pooled(self.pool) as conn:
            batch = await repo.claim_next(conn, worker_id=self.worker_id,
                                          lease_seconds=self.settings.batch_lease_seconds)
        if batch is None:
            return False
        metrics.batches_in_flight.inc()
        try:
            await self._process(batch)
        finally:
            metrics.batches_in_flight.dec()
        seconds = release_freed_memory()  # what the batch freed goes back to the system, not to the next peak
        log.debug("batch memory released", seconds=round(seconds, 4))
        return True

    async def _process(self, batch: repo.BatchRow) -> None:
        log.info("batch started", batch_id=str(batch.id), kind=batch.kind, resume_after=batch.rows_processed)
        run = _BatchRun(self.pool, batch, self.settings, sink=sink_for(self.sinks, batch.kind),
                        worker_id=self.worker_id, pacer=Pacer(self.settings.batch_share_under_load))
        renewer = asyncio.create_task(self._keep_lease(batch), name=f"batch-lease-{batch.id}")
        try:
            outcome = await self._outcome(run)
        finally:
            await cancel_and_wait(renewer)
        if outcome is not None:
            await self._retry(functools.partial(self._finish, batch, *outcome), what="finishing a batch")
            log.info("batch " + outcome[0], batch_id=str(batch.id))

    async def _outcome(self, run: _BatchRun) -> tuple[str, str | None, list[RowError]] | None:
        """(status, failure, errors) to finish with, or None when the batch is left to another run."""
        try:
            await run.run()
        except HeaderRejected as exc:
            return "failed", "the header line is not usable: see errors at row 0", exc.errors
        except LeaseLost:
            log.warning("batch taken over by another worker", batch_id=str(run.batch.id))
            return None
        except Exception as exc:
            raise_if_cancelling(exc)
            if is_transient(exc):  # also RetriesExhausted: never fail a batch for a database fault, put it off
                log.warning("batch put off until the database is back", batch_id=str(run.batch.id), why=str(exc))
                return None
            log.exception("batch failed", batch_id=str(run.batch.id))
            return "failed", (
                f"processing stopped after row {run.committed_row} ({type(exc).__name__}): rows up to it are kept. "
                "Upload the same body with the same Idempotency-Key to resume after that row."
            ), []
        return "done", None, []

    async def _keep_lease(self, batch: repo.BatchRow) -> None:
        """Renew the lease every third of its length while the batch runs (steps check it; this keeps it)."""
        lease = self.settings.batch_lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                if not await repo.renew_lease(self.pool, batch_id=batch.id, worker_id=self.worker_id,
                                              lease_seconds=lease):
                    return  # taken over: the next step sees it and stops
            except Exception as exc:
                raise_if_cancelling(exc)
                log.warning("batch lease not renewed", batch_id=str(batch.id), error=type(exc).__name__)

    async def _finish(self, batch: repo.BatchRow, status: str, failure: str | None, errors: list[RowError]) -> None:
        async with pooled(self.pool) as conn, conn.transaction():
            owner, _ = await repo.lock_progress(conn, batch_id=batch.id)
            if owner != self.worker_id:
                return
            await repo.insert_errors(conn, batch_id=batch.id, errors=errors)
            await repo.finish(conn, batch_id=batch.id, status=status, failure=failure)

    async def _retry(self, operation: Callable[[], Awaitable[T]], *, what: str) -> T | None:
        try:
            return await retry_transient(operation, what=what, budget_seconds=self.settings.batch_retry_seconds)
        except RetriesExhausted as exc:
            log.warning("batch put off until the database is back", why=str(exc))
            return None


class _BatchRun:
    """One pass over a batch's chunks."""

    def __init__(
        self, pool: asyncpg.Pool, batch: repo.BatchRow, settings: Settings, *, sink: Sink, worker_id: uuid.UUID,
        pacer: Pacer,
    ) -> None:
        self.pool = pool
        self.pacer = pacer
        self.batch = batch
        self.worker_id = worker_id
        self.retry_seconds = settings.batch_retry_seconds
        self.committed_row = batch.rows_processed
        self.sink = sink
        self.reader = RowReader(media_type=batch.media_type, charset=batch.charset)
        self.splitter = splitter_for(batch.media_type)
        self.step_size = settings.batch_rows_per_step
        self.current: _Step | None = None  # the step being validated, in the worker thread
        self.header_checked = batch.media_type == NDJSON
        self.steps: asyncio.Queue[_Step | None] = asyncio.Queue(maxsize=1)
        self.failure: BaseException | None = None

    async def run(self) -> None:
        applier = asyncio.create_task(self._apply_steps())
        try:
            seq = 0
            while (chunk := await self._read_chunk(seq)) is not None:
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

    async def _read_chunk(self, seq: int) -> bytes | None:
        return await retry_transient(
            lambda: repo.read_chunk(self.pool, batch_id=self.batch.id, seq=seq),
            what="reading a batch body", budget_seconds=self.retry_seconds,
        )

    async def _take(self, records: list[bytes]) -> None:
        """Read and validate a chunk's records in the worker thread a step at a time: a row's raw values live only
        while it is validated, so at most one step of rows is held beyond the steps waiting to be applied."""
        start = 0
        while start < len(records):
            async with self.pacer.work():
                start, full = await asyncio.to_thread(self._fill, records, start)
            if self.failure is not None:
                raise self.failure
            if full is not None:
                await self.steps.put(full)

    def _fill(self, records: list[bytes], start: int) -> tuple[int, _Step | None]:
        """Validate records from `start` into the current step; (where to go on, the step once it is full)."""
        for index in range(start, len(records)):
            parsed = self.reader.read(records[index])
            if not self.header_checked and self.reader.header is not None:
                self.header_checked = True
                if errors := check_header(self.reader.header, self.sink.columns):
                    raise HeaderRejected(errors)
            if parsed is None or parsed.row <= self.batch.rows_processed:
                continue
            step = self.current or self._new_step()
            self._validate(step, parsed)
            if step.rows >= self.step_size:
                self.current = None
                return index + 1, step
        return len(records), None

    def _new_step(self) -> _Step:
        self.current = _Step(today=clock.today_jst())
        return self.current

    async def _flush(self) -> None:
        """The last step, however few its rows."""
        step, self.current = self.current, None
        if step is not None:
            await self.steps.put(step)

    async def _apply_steps(self) -> None:
        """Apply validated steps in order; after a failure, only drain the queue (the producer stops)."""
        while (step := await self.steps.get()) is not None:
            if self.failure is None:
                try:
                    async with self.pacer.work():
                        await retry_transient(functools.partial(self._apply, step), what="a batch step",
                                              budget_seconds=self.retry_seconds)
                except Exception as exc:
                    raise_if_cancelling(exc)
                    self.failure = exc

    async def _apply(self, step: _Step) -> None:
        async with pooled(self.pool) as conn, conn.transaction():
            owner, processed = await repo.lock_progress(conn, batch_id=self.batch.id)
            if owner != self.worker_id:
                raise LeaseLost()
            if processed >= step.last_row:  # committed, but the answer to COMMIT was lost: never twice
                self.committed_row = processed
                return
            applied = await self.sink.apply(conn, batch=self.batch, rows=step.valid)
            errors = sorted([*step.errors, *applied.rejected], key=lambda e: e.row)
            await repo.insert_errors(conn, batch_id=self.batch.id, errors=errors)
            rejected_rows = len({e.row for e in errors})
            counts = repo.StepCounts(
                last_row=step.last_row, accepted=step.rows - rejected_rows, rejected=rejected_rows,
                linked=applied.linked, needs_review=applied.needs_review, ambiguous=applied.ambiguous,
            )
            await repo.add_step(conn, batch_id=self.batch.id, counts=counts)
        self.committed_row = step.last_row
        metrics.batch_rows.labels(self.batch.kind, "accepted").inc(counts.accepted)
        metrics.batch_rows.labels(self.batch.kind, "rejected").inc(counts.rejected)

    def _validate(self, step: _Step, parsed: ParsedRow) -> None:
        step.last_row, step.rows = parsed.row, step.rows + 1
        if parsed.values is None:
            code, detail = parsed.problem or ("invalid_row", "the row could not be read")
            step.errors.append(RowError(row=parsed.row, field=None, error=code, detail=detail))
            return
        if self.batch.media_type == NDJSON and (unknown := _ndjson_header_errors(parsed, self.sink.columns)):
            step.errors.extend(unknown)
            return
        result = self.sink.validate(parsed.values, row=parsed.row, batch=self.batch, today=step.today)
        if isinstance(result, list):
            step.errors.extend(result)
        else:
            step.valid.append((parsed.row, result))


def _ndjson_header_errors(parsed: ParsedRow, columns: Columns) -> list[RowError]:
    assert parsed.values is not None
    errors = check_header(list(parsed.values), columns, partial=True)
    return [RowError(row=parsed.row, field=e.field, error=e.error, detail=e.detail) for e in errors]
