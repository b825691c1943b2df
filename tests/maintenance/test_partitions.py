"""Monthly partitions: made ahead, crossed at a month boundary by every reader, dropped by retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.audit import service as audit
from service.core.clock import clock
from service.maintenance import repository as maintenance_repo
from service.maintenance import service as maintenance
from tests.factories import bearer, card_proof, consented_patient, make_staff, verify_card

PASSWORD = "correct horse battery"


def set_clock(moment: datetime) -> None:
    """Make the service's clock show `moment` (reset after each test by the conftest)."""
    clock.offset = timedelta(0)
    clock.offset = moment - clock.now()


def month_start(day: date, months_later: int = 0) -> datetime:
    """Midnight UTC of the first day of the month `months_later` after `day`'s."""
    index = day.year * 12 + day.month - 1 + months_later
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


async def partition_counts(conn: asyncpg.Connection, table: str) -> dict[str, int]:
    """Rows of `table` per partition."""
    rows = await conn.fetch(f"SELECT tableoid::regclass::text AS part, count(*) FROM {table} GROUP BY 1")
    return {r["part"]: r["count"] for r in rows}


async def staff_client(app: FastAPI, conn: asyncpg.Connection, facility_code: str) -> httpx.AsyncClient:
    staff = await make_staff(conn, facility_code=facility_code, role="pharmacist", password=PASSWORD)
    session = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://onshi.test")
    login = await session.post("/v1/staff/login", json={"login": staff["login"], "password": PASSWORD})
    assert login.status_code == 200, login.text
    session.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    return session


async def test_the_service_makes_this_month_and_three_ahead(
    conn: asyncpg.Connection, owner: asyncpg.Connection
) -> None:
    today = clock.now().date()
    wanted = [month_start(today, i).date() for i in range(maintenance.AHEAD + 1)]
    for table in maintenance.PARTITIONED:
        months = [p["month"] for p in await maintenance_repo.months(conn, table)]
        assert set(wanted) <= set(months), table
    assert await maintenance.ensure_ahead(owner) == {table: 0 for table in maintenance.PARTITIONED}


async def test_a_month_boundary_is_crossed_by_checks_views_the_access_log_and_verify_audit(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    boundary = month_start(clock.now().date(), 1)
    set_clock(boundary - timedelta(minutes=2))
    given: dict[str, Any] = await consented_patient(client, conn, app.state.authority, tmp_path,
                                                    categories=("medication",))
    pharmacist = await staff_client(app, conn, given["facility_code"])
    before = await pharmacist.get(f"/v1/viewer/consents/{given['consent_id']}/medications")
    assert before.status_code == 200, before.text

    set_clock(boundary + timedelta(minutes=2))
    patients = await pharmacist.get("/v1/viewer/consents")
    assert [p["consent_id"] for p in patients.json()] == [given["consent_id"]]  # consented last month, still live
    after = await pharmacist.get(f"/v1/viewer/consents/{given['consent_id']}/medications")
    assert after.status_code == 200 and after.json()["records"] == before.json()["records"]
    assert (await verify_card(client, given["terminal"], given["card"])).json()["result"] == "eligible"
    log = await client.post("/v1/me/access-log", headers=bearer(given["terminal"]["token"]),
                            json=await card_proof(client, given["terminal"], given["card"], purpose="access_log"))
    await pharmacist.aclose()

    old, new = (f"_y{m:%Y}m{m:%m}" for m in (boundary - timedelta(days=1), boundary))
    for table in ("verifications", "access_log", "audit_log"):
        parts = await partition_counts(conn, table)
        assert any(p.endswith(old) for p in parts) and any(p.endswith(new) for p in parts), (table, parts)
    assert log.status_code == 200, log.text
    assert [e["at"][:10] for e in log.json()["entries"]] == [
        (boundary + timedelta(minutes=2)).date().isoformat(), (boundary - timedelta(minutes=2)).date().isoformat()]
    report = await audit.verify(conn)
    assert report.intact and report.entries == await conn.fetchval("SELECT count(*) FROM audit_log")


async def test_retention_drops_old_months_and_verify_audit_resumes_from_the_checkpoints(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    today = clock.now().date()
    for table in maintenance.PARTITIONED:
        await maintenance_repo.create_months(owner, table=table, first=month_start(today, -4).date(), months=2)
    set_clock(month_start(today, -4) + timedelta(days=3))
    given: dict[str, Any] = await consented_patient(client, conn, app.state.authority, tmp_path)
    set_clock(month_start(today, -3) + timedelta(days=3))
    assert (await verify_card(client, given["terminal"], given["card"])).status_code == 200
    clock.offset = timedelta(0)
    for _ in range(2):
        assert (await verify_card(client, given["terminal"], given["card"])).status_code == 200
    entries_before = await conn.fetchval("SELECT count(*) FROM audit_log")

    planned, _ = await maintenance.apply_retention(owner, keep_months=2, dry_run=True)
    assert sorted(planned) == sorted(f"{table}_y{m:%Y}m{m:%m}" for table in maintenance.PARTITIONED
                                     for m in (month_start(today, -4), month_start(today, -3)))
    assert await conn.fetchval("SELECT count(*) FROM verifications") == 4  # a dry run drops nothing

    dropped, checkpoints = await maintenance.apply_retention(owner, keep_months=2)
    assert sorted(dropped) == sorted(planned)
    assert checkpoints >= 1
    assert await conn.fetchval("SELECT count(*) FROM verifications") == 2  # this month's two checks are kept
    report = await audit.verify(conn)
    assert report.intact, report.breaks
    assert 0 < report.entries == await conn.fetchval("SELECT count(*) FROM audit_log") < entries_before
    log = await client.post("/v1/me/access-log", headers=bearer(given["terminal"]["token"]),
                            json=await card_proof(client, given["terminal"], given["card"], purpose="access_log"))
    assert log.status_code == 200 and log.json()["entries"] == []  # the views were in the dropped months


async def test_a_month_without_a_partition_lands_in_the_default_one_and_is_then_skipped(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, owner: asyncpg.Connection, tmp_path: Path
) -> None:
    far = month_start(clock.now().date(), 30) + timedelta(days=2)
    given: dict[str, Any] = await consented_patient(client, conn, app.state.authority, tmp_path)
    set_clock(far)
    assert (await verify_card(client, given["terminal"], given["card"])).status_code == 200
    status = await maintenance.status(owner)
    assert status["verifications"]["default_rows"] == 1  # type: ignore[index]
    made = await maintenance.ensure_ahead(owner, today=far.date())
    assert made["verifications"] == maintenance.AHEAD  # its own month is skipped: its row stays in DEFAULT
    assert made["access_log"] == maintenance.AHEAD + 1  # the access log had no row then: every month made
    report = await audit.verify(conn)
    assert report.intact


@pytest.mark.parametrize("keep", [0, -1])
async def test_no_retention_keeps_everything(owner: asyncpg.Connection, keep: int) -> None:
    assert await maintenance.apply_retention(owner, keep_months=keep) == ([], 0)
