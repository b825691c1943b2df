"""The audit trail against those who can write the database: the service's own role may only append; the owner
meets triggers (no TRUNCATE, heads only move forward); what a superuser does with the triggers switched off
(truncate, cut the tail and move the head back, delete a head, rewrite a chain whole) is found by verify-audit
against the signed anchors written outside the database."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import asyncpg
import pytest
from fastapi import FastAPI

from service.audit import anchors
from service.audit import service as audit
from service.core.settings import Settings
from tests.test_admin import admin

ACTORS = [f"terminal:tamper-{i}" for i in range(6)]


async def _some_entries(conn: asyncpg.Connection, per_actor: int = 4) -> None:
    async with conn.transaction():
        for n in range(per_actor):
            for actor in ACTORS:
                await audit.record(conn, action="verification", actor=actor, subject={"n": n})


async def _longest_shard(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow("SELECT shard, seq FROM audit_heads ORDER BY seq DESC, shard LIMIT 1")
    assert row is not None and row["seq"] >= 4
    return row["shard"], row["seq"]


async def _as_superuser(owner: asyncpg.Connection, *statements: tuple[str, tuple[object, ...]]) -> None:
    """Statements with every trigger off (session_replication_role: what only a superuser may set)."""
    async with owner.transaction():
        await owner.execute("SET LOCAL session_replication_role = replica")
        for sql, args in statements:
            await owner.execute(sql, *args)


async def _verify(app: FastAPI, conn: asyncpg.Connection, settings: Settings) -> audit.ChainReport:
    signed, problems = anchors.read_anchors(settings.audit_anchor_path)
    assert problems == []
    return await audit.verify(conn, anchors.latest_per_shard(signed))


@pytest.mark.parametrize("statement", [
    "TRUNCATE audit_log", "TRUNCATE audit_heads", "DELETE FROM audit_log", "DELETE FROM audit_heads",
    "UPDATE audit_heads SET seq = 0", "UPDATE audit_log SET entry = 'x'", "DELETE FROM audit_checkpoints",
    "INSERT INTO audit_log (shard, seq, at, entry, prev_hash, entry_hash) VALUES (0, 99, now(), 'x', '', '')",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only", "DROP TRIGGER audit_no_truncate ON audit_log",
    "DELETE FROM verifications", "UPDATE access_log SET role = 'x'", "SET ROLE postgres",
    "SET session_replication_role = replica",
])
async def test_the_service_role_may_only_append(conn: asyncpg.Connection, statement: str) -> None:
    await _some_entries(conn, per_actor=1)
    assert await conn.fetchval("SELECT current_user") == "onshi_app"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute(statement)


@pytest.mark.parametrize(("statement", "refusal"), [
    ("TRUNCATE audit_log", "never truncated"),
    ("TRUNCATE audit_heads", "never truncated"),
    ("TRUNCATE audit_checkpoints", "never truncated"),
    ("UPDATE audit_heads SET seq = seq - 1, head = prev", "only moves one entry forward"),
    ("DELETE FROM audit_heads WHERE shard = 0", "never deleted"),
    ("DELETE FROM audit_checkpoints", "append-only"),
])
async def test_the_owner_meets_triggers(
    conn: asyncpg.Connection, owner: asyncpg.Connection, statement: str, refusal: str
) -> None:
    await _some_entries(conn, per_actor=1)
    await owner.execute("INSERT INTO audit_checkpoints (shard, seq, entry_hash, month) VALUES (0, 1, '', now())")
    with pytest.raises(asyncpg.RaiseError, match=refusal):
        await owner.execute(statement)


async def test_a_partition_of_the_trail_cannot_be_truncated_either(owner: asyncpg.Connection) -> None:
    partitions = await owner.fetch("SELECT inhrelid::regclass::text AS name FROM pg_inherits "
                                   "WHERE inhparent = 'audit_log'::regclass")
    assert len(partitions) >= 5  # DEFAULT, this month and those made ahead
    for partition in partitions:
        with pytest.raises(asyncpg.RaiseError, match="never truncated"):
            await owner.execute(f"TRUNCATE {partition['name']}")


async def test_a_truncated_trail_is_found_by_verify_audit(
    app: FastAPI, conn: asyncpg.Connection, owner: asyncpg.Connection, settings: Settings
) -> None:
    await _some_entries(conn)
    assert await app.state.anchoring.run_once()
    await _as_superuser(owner, ("TRUNCATE audit_log", ()),
                        ("UPDATE audit_heads SET seq = 0, head = $1, prev = NULL", (bytes(32),)))
    assert (await audit.verify(conn)).intact  # the chains alone: empty and consistent
    report = admin(settings, "verify-audit", expect=1)
    shards = {audit.shard_of(actor) for actor in ACTORS}
    assert report["intact"] is False and report["entries"] == 0
    assert {b["shard"] for b in report["breaks"]} == shards
    assert all("signed anchor vouches" in b["problem"] for b in report["breaks"])


async def test_a_cut_tail_with_the_head_moved_back_is_found(
    app: FastAPI, conn: asyncpg.Connection, owner: asyncpg.Connection, settings: Settings
) -> None:
    await _some_entries(conn)
    assert await app.state.anchoring.run_once()
    shard, last = await _longest_shard(conn)
    keep = last - 2
    kept = await conn.fetchrow("SELECT entry_hash, prev_hash FROM audit_log WHERE shard = $1 AND seq = $2",
                               shard, keep)
    await _as_superuser(
        owner, ("DELETE FROM audit_log WHERE shard = $1 AND seq > $2", (shard, keep)),
        ("UPDATE audit_heads SET seq = $2, head = $3, prev = $4 WHERE shard = $1",
         (shard, keep, kept["entry_hash"], kept["prev_hash"])))
    assert (await audit.verify(conn)).intact  # the chains alone cannot tell
    report = await _verify(app, conn, settings)
    assert [(b.shard, b.seq) for b in report.breaks] == [(shard, keep + 1)]
    assert "head moved back" in report.breaks[0].problem


async def test_a_deleted_head_row_is_found_without_anchors(
    conn: asyncpg.Connection, owner: asyncpg.Connection
) -> None:
    await _some_entries(conn)
    shard, _ = await _longest_shard(conn)
    await _as_superuser(owner, ("DELETE FROM audit_heads WHERE shard = $1", (shard,)))
    report = await audit.verify(conn)
    assert [(b.shard, b.seq) for b in report.breaks] == [(shard, 0)]
    assert "head row is missing" in report.breaks[0].problem


async def test_a_chain_rewritten_whole_is_found(
    app: FastAPI, conn: asyncpg.Connection, owner: asyncpg.Connection, settings: Settings
) -> None:
    await _some_entries(conn)
    assert await app.state.anchoring.run_once()
    shard, last = await _longest_shard(conn)
    rows = await conn.fetch("SELECT seq, entry, prev_hash FROM audit_log WHERE shard = $1 ORDER BY seq", shard)
    prev, prev_of_last, rewrites = bytes(rows[0]["prev_hash"]), b"", []
    for row in rows:  # change entry 2, then recompute every hash after it: a chain consistent in itself
        text = row["entry"].replace('"verification"', '"nothing"') if row["seq"] == 2 else row["entry"]
        digest = hashlib.sha256(prev + text.encode()).digest()
        rewrites.append(("UPDATE audit_log SET entry = $3, prev_hash = $4, entry_hash = $5 "
                         "WHERE shard = $1 AND seq = $2", (shard, row["seq"], text, prev, digest)))
        prev_of_last, prev = prev, digest
    rewrites.append(("UPDATE audit_heads SET head = $2, prev = $3 WHERE shard = $1", (shard, prev, prev_of_last)))
    await _as_superuser(owner, *rewrites)
    assert (await audit.verify(conn)).intact  # the chains alone cannot tell
    report = await _verify(app, conn, settings)
    assert [(b.shard, b.seq) for b in report.breaks] == [(shard, last)]
    assert "rewritten" in report.breaks[0].problem


def _forge_anchor(path: Path) -> None:
    """Append a copy of the last anchor that claims a longer chain than was signed."""
    line = json.loads(path.read_text().splitlines()[-1])
    line["heads"][0][1] += 100
    path.write_text(path.read_text() + json.dumps(line) + "\n")


async def test_an_anchor_changed_by_hand_is_reported_not_trusted(
    app: FastAPI, conn: asyncpg.Connection, settings: Settings
) -> None:
    await _some_entries(conn)
    assert await app.state.anchoring.run_once()
    _forge_anchor(settings.audit_anchor_path / anchors.ANCHORS_FILE)
    report = admin(settings, "verify-audit", expect=1)
    assert report["intact"] is False and report["breaks"] == []
    assert report["anchors"]["signed"] == 1
    assert report["anchors"]["problems"] == [f"{anchors.ANCHORS_FILE} line 2: not a validly signed anchor"]


async def test_anchors_are_written_only_when_the_heads_move(app: FastAPI, conn: asyncpg.Connection) -> None:
    assert await app.state.anchoring.run_once()  # the fresh trail's genesis heads
    assert not await app.state.anchoring.run_once()
    await _some_entries(conn, per_actor=1)
    assert await app.state.anchoring.run_once()
    verified = await audit.verify(conn, anchors.latest_per_shard(
        anchors.read_anchors(app.state.settings.audit_anchor_path)[0]))
    assert verified.intact and verified.entries == len(ACTORS)
