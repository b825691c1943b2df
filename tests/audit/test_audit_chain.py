"""The audit trail: every action appends to a hash chain; the verifier finds the first modified entry."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.audit import service as audit
from tests.factories import linked_card, make_terminal, verify_card


async def _run_some_checks(app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path) -> None:
    card = await linked_card(client, conn, app.state.authority, tmp_path)
    for _ in range(3):
        terminal = await make_terminal(conn)
        for _ in range(4):
            assert (await verify_card(client, terminal, card)).status_code == 200


async def test_every_verification_is_in_an_intact_chain(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    await _run_some_checks(app, client, conn, tmp_path)
    entries = [json.loads(r["entry"]) for r in await conn.fetch("SELECT entry FROM audit_log")]
    assert sum(e["action"] == "verification" for e in entries) == 12
    report = await audit.verify(conn)
    assert report.intact
    assert report.entries == len(entries)


async def test_the_log_refuses_updates_and_deletes(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    await _run_some_checks(app, client, conn, tmp_path)
    for statement in ("UPDATE audit_log SET entry = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # the service's role has no such right
            await conn.execute(statement)
        with pytest.raises(asyncpg.RaiseError, match="append-only"):  # the owner meets the trigger
            await owner.execute(statement)


async def _tamper(conn: asyncpg.Connection, sql: str, *args: object) -> None:
    """What an attacker with database rights could do: switch the guard off, change history."""
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


async def test_a_modified_entry_is_reported_as_the_first_break(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, owner: asyncpg.Connection,
    tmp_path: Path
) -> None:
    await _run_some_checks(app, client, conn, tmp_path)
    shard, seq = await conn.fetchrow("SELECT shard, seq FROM audit_log WHERE seq = 2 ORDER BY shard LIMIT 1")
    await _tamper(owner, "UPDATE audit_log SET entry = replace(entry, 'eligible', 'not_eligible') "
                        "WHERE shard = $1 AND seq = $2", shard, seq)
    report = await audit.verify(conn)
    assert not report.intact
    assert [(b.shard, b.seq) for b in report.breaks] == [(shard, seq)]
    assert "modified" in report.breaks[0].problem


async def test_a_deleted_entry_is_reported(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, owner: asyncpg.Connection,
    tmp_path: Path
) -> None:
    await _run_some_checks(app, client, conn, tmp_path)
    shard, last = await conn.fetchrow("SELECT shard, max(seq) FROM audit_log GROUP BY shard ORDER BY 2 DESC LIMIT 1")
    await _tamper(owner, "DELETE FROM audit_log WHERE shard = $1 AND seq = $2", shard, last)
    report = await audit.verify(conn)
    assert [(b.shard, b.seq) for b in report.breaks] == [(shard, last)]
    await _tamper(owner, "DELETE FROM audit_log WHERE shard = $1 AND seq = 1", shard)
    report = await audit.verify(conn)
    assert [(b.shard, b.seq) for b in report.breaks] == [(shard, 1)]
