"""More concurrent history reads than the pool has connections: all are answered, none waits for ever.

The paced benchmark found it: 20 doctors and pharmacists reading at once while the pool held 16 connections. Each
read held a connection (its transaction: the consent, the access log) and asked the pool for a second one for the
history, so that every connection waited for another and the whole service stopped (verifications too). Reads
without a replica now use the connection the request holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.authority.ca import CertificateAuthority
from service.core.settings import Settings
from tests.factories import consented_patient, make_staff

POOL = 2
READERS = 6


@pytest.fixture(scope="module")
async def small_pool_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The service with a pool of 2 connections (same database, Redis and authority as the app under test)."""
    application = create_app(settings.model_copy(update={"db_pool_min": 1, "db_pool_max": POOL}))
    async with application.router.lifespan_context(application):
        yield application


async def test_more_concurrent_history_reads_than_connections_all_finish(
    client: httpx.AsyncClient, conn: asyncpg.Connection, app: FastAPI, small_pool_app: FastAPI, tmp_path: Path,
) -> None:
    authority: CertificateAuthority = app.state.authority
    patient = await consented_patient(client, conn, authority, tmp_path, facility_type="pharmacy")
    sessions = []
    for _ in range(READERS):
        staff = await make_staff(conn, facility_code=patient["facility_code"], role="pharmacist")
        session = httpx.AsyncClient(transport=httpx.ASGITransport(app=small_pool_app), base_url="http://onshi.test")
        login = await session.post("/v1/staff/login", json={"login": staff["login"], "password": staff["password"]})
        assert login.status_code == 200, login.text
        sessions.append(session)
    url = f"/v1/viewer/consents/{patient['consent_id']}/medications"
    try:
        for _ in range(3):
            answers = await asyncio.wait_for(asyncio.gather(*(s.get(url) for s in sessions)), timeout=30)
            assert [a.status_code for a in answers] == [200] * READERS, [a.text[:200] for a in answers]
            assert all(a.json()["records"] for a in answers)
    finally:
        for session in sessions:
            await session.aclose()
    logged = await conn.fetchval("SELECT count(*) FROM access_log WHERE consent_id = $1::uuid",
                                 patient["consent_id"])
    assert logged == 3 * READERS
