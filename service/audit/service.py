"""Audit: every verification, registration, consent and view, in hash chains that reveal any modification.

Each entry commits to the previous entry of its shard (entry_hash = sha256(prev_hash || entry)); entries
are spread over shards by actor, so concurrent requests from different terminals never wait on one row.
The append is the last statement of a request's transaction: the entry exists exactly when the action does.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime

from service.audit import repository as repo
from service.core.clock import clock
from service.core.database import Connection

SHARDS = 16
PAGE = 5000


def shard_of(actor: str) -> int:
    """The shard of an actor (stable across processes)."""
    return zlib.crc32(actor.encode()) % SHARDS


def canonical(*, action: str, actor: str, at: datetime, subject: dict[str, object]) -> str:
    """The exact text that is hashed: sorted keys, no spaces, UTF-8."""
    body = {"action": action, "actor": actor, "at": at.isoformat(), "subject": subject}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class Entry:
    """An audit entry ready to append: its shard, its exact text, its time (the partition key)."""

    shard: int
    text: str
    at: datetime

    def params(self) -> tuple[int, str, datetime]:
        """The parameters $1-$3 of `repository.APPEND_CTE`."""
        return self.shard, self.text, self.at


def entry(*, action: str, actor: str, subject: dict[str, object], at: datetime | None = None) -> Entry:
    """An entry (never a name, a photo, a token or a My Number: ids and outcomes only)."""
    moment = at or clock.now()
    return Entry(shard=shard_of(actor), text=canonical(action=action, actor=actor, at=moment, subject=subject),
                 at=moment)


async def record(conn: Connection, *, action: str, actor: str, subject: dict[str, object]) -> None:
    """Append an entry to the trail, in the caller's transaction."""
    made = entry(action=action, actor=actor, subject=subject)
    await repo.append(conn, shard=made.shard, entry=made.text, at=made.at)


@dataclass(frozen=True, slots=True)
class Break:
    """The first entry of a shard whose chain does not hold."""

    shard: int
    seq: int
    problem: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of verifying every chain."""

    entries: int
    breaks: list[Break]

    @property
    def intact(self) -> bool:
        """True when no chain is broken."""
        return not self.breaks


def _entry_hash(prev: bytes, entry: str) -> bytes:
    return hashlib.sha256(prev + entry.encode()).digest()


async def verify(conn: Connection, anchored: dict[int, tuple[int, bytes]] | None = None) -> ChainReport:
    """Recompute every chain (from its retention checkpoint, if any); report each broken shard's first break.

    With `anchored` (per shard, the furthest entry a signed anchor vouches for: `anchors.latest_per_shard`),
    also report a shard whose anchored entry is gone or different, or whose head stands behind it: a trail
    truncated, cut short or rewritten whole."""
    total, breaks = 0, []
    starts = await repo.checkpoints(conn)
    heads = {row["shard"]: row for row in await repo.shards(conn)}
    for shard in sorted(set(range(SHARDS)) | set(heads)):
        if shard not in heads:
            breaks.append(Break(shard, 0, "the shard's head row is missing (its entries cannot be vouched for)"))
            continue
        head = heads[shard]
        start = starts.get(shard, (0, repo.GENESIS))
        counted, problem = await _verify_shard(conn, shard, head["seq"], bytes(head["head"]), start)
        total += counted
        if problem is None and anchored and shard in anchored:
            problem = await _against_anchor(conn, shard, head["seq"], start, anchored[shard])
        if problem is not None:
            breaks.append(problem)
    return ChainReport(entries=total, breaks=breaks)


async def _against_anchor(
    conn: Connection, shard: int, head_seq: int, start: tuple[int, bytes], anchor: tuple[int, bytes]
) -> Break | None:
    seq, expected = anchor
    if seq <= start[0]:  # retention dropped the anchored month: the checkpoint is where the chain starts
        return None
    if head_seq < seq:
        return Break(shard, head_seq + 1, f"the chain ends before entry {seq}, which a signed anchor vouches for "
                                          "(entries deleted and the head moved back, or the trail truncated)")
    found = await repo.entry_hash(conn, shard=shard, seq=seq)
    if found != expected:
        return Break(shard, seq, "differs from its signed anchor (the chain was rewritten)")
    return None


async def _verify_shard(
    conn: Connection, shard: int, head_seq: int, head: bytes, start: tuple[int, bytes]
) -> tuple[int, Break | None]:
    (seq, prev), counted = start, 0
    while rows := await repo.entries(conn, shard=shard, after=seq, limit=PAGE):
        for row in rows:
            counted += 1
            if row["seq"] != seq + 1:
                return counted, Break(shard, seq + 1, "missing entry (sequence gap)")
            if bytes(row["prev_hash"]) != prev:
                return counted, Break(shard, row["seq"], "does not point to the previous entry")
            if _entry_hash(prev, row["entry"]) != bytes(row["entry_hash"]):
                return counted, Break(shard, row["seq"], "content does not match its hash (modified)")
            prev, seq = bytes(row["entry_hash"]), row["seq"]
    if (seq, prev) != (head_seq, head):
        return counted, Break(shard, seq + 1, "entries after this point are missing (head is further)")
    return counted, None
