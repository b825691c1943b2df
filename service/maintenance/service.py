"""Monthly partitions of verifications, the access log and the audit trail: created ahead, dropped by age.

The service makes the partitions of the current month and the next `AHEAD` at start-up and then every few hours
(one instance at a time, under an advisory lock); rows of a month without a partition land in the table's
DEFAULT partition, so an insert never fails for want of one. With `ONSHI_RETENTION_MONTHS` set, whole months
older than that are dropped, oldest first; before a month of the audit trail goes, each shard's last entry in it
is recorded in `audit_checkpoints`, and `verify-audit` resumes every chain from there. 0 keeps everything.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

import asyncpg

from service.core.clock import clock
from service.core.database import Connection
from service.core.logging import get_logger
from service.core.tasks import cancel_and_wait, raise_if_cancelling
from service.maintenance import repository as repo

PARTITIONED = ("verifications", "access_log", "audit_log")
AHEAD = 3  # months of partitions made beyond the current one
LOCK = 0x6F6E7368  # advisory lock: one instance upkeeps at a time
log = get_logger(__name__)


def month_of(day: date) -> date:
    """The first day of the month."""
    return day.replace(day=1)


def months_before(month: date, count: int) -> date:
    """The first day of the month `count` months before `month`."""
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Upkeep:
    """What one round of upkeep did."""

    created: dict[str, int]
    dropped: list[str]
    checkpoints: int
    in_default: dict[str, int]


async def ensure_ahead(conn: Connection, *, today: date | None = None) -> dict[str, int]:
    """Partitions from the current month to `AHEAD` months on, per table; returns how many were created."""
    first = month_of(today or clock.now().date())
    return {table: await repo.create_months(conn, table=table, first=first, months=AHEAD + 1)
            for table in PARTITIONED}


async def apply_retention(conn: Connection, *, keep_months: int, today: date | None = None,
                          dry_run: bool = False) -> tuple[list[str], int]:
    """Drop the partitions of months that ended more than `keep_months` months ago (0: none); returns the
    partitions dropped (or that would be) and how many audit checkpoints were recorded."""
    if keep_months <= 0:
        return [], 0
    oldest_kept = months_before(month_of(today or clock.now().date()), keep_months)
    dropped, checkpoints = [], 0
    for table in PARTITIONED:
        for partition in await repo.months(conn, table):
            if partition["month"] >= oldest_kept:
                break
            dropped.append(partition["name"])
            if dry_run:
                continue
            async with conn.transaction():
                if table == "audit_log":
                    checkpoints += await repo.checkpoint_audit(conn, partition=partition["name"],
                                                               month=partition["month"])
                await repo.drop(conn, partition["name"])
    return dropped, checkpoints


async def upkeep(conn: Connection, *, keep_months: int, today: date | None = None) -> Upkeep | None:
    """One round (None when another instance holds the lock): make partitions ahead, apply retention."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK):
        return None
    try:
        created = await ensure_ahead(conn, today=today)
        dropped, checkpoints = await apply_retention(conn, keep_months=keep_months, today=today)
        in_default = {table: await repo.default_rows(conn, table) for table in PARTITIONED}
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK)
    if any(in_default.values()):
        log.warning("rows in default partitions (months written before their partition existed)", **in_default)
    return Upkeep(created=created, dropped=dropped, checkpoints=checkpoints, in_default=in_default)


async def status(conn: Connection) -> dict[str, object]:
    """Each partitioned table's months and the rows of its DEFAULT partition."""
    return {table: {"months": [p["month"].isoformat()[:7] for p in await repo.months(conn, table)],
                    "default_rows": await repo.default_rows(conn, table)} for table in PARTITIONED}


class MaintenanceTask:
    """Upkeep at start-up, then every `interval` seconds, in the service process: on a connection of the owner
    (`owner_url`, DATABASE_URL) opened for the round, since the service's own role may create and drop nothing."""

    def __init__(self, *, owner_url: str, keep_months: int, interval: float) -> None:
        self.owner_url = owner_url
        self.keep_months = keep_months
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Make this month's partitions and those ahead now (an upgraded database may lack them), then loop."""
        await self.run_once()
        self._task = asyncio.create_task(self._loop(), name="maintenance")

    async def run_once(self) -> Upkeep | None:
        """One round of upkeep on a connection of its own."""
        conn = await asyncpg.connect(self.owner_url, timeout=10, server_settings={"application_name": "onshi-upkeep"})
        try:
            return await upkeep(conn, keep_months=self.keep_months)
        finally:
            await conn.close()

    async def stop(self) -> None:
        """Cancel the loop (a round in progress rolls back its current step)."""
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except Exception as exc:
                raise_if_cancelling(exc)
                log.warning("partition upkeep failed; next try in the next round", error=type(exc).__name__)
