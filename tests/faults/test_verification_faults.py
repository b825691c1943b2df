"""Reception under faults: checks go on while PostgreSQL restarts and stops, Redis stops, the service is killed.

Six terminals' worth of concurrent checks run throughout. Every answer is counted: during an outage it is 503
with Retry-After, the error body and the request id, never a 500; every check answered 200 is in the database
(0 lost); the service recovers without a restart of its own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from service.authority.ca import CertificateAuthority
from tests.factories import bearer, eligibility_row, linked_card, make_terminal
from tests.faults.servers import Postgres, Redis, Service

CLIENTS = 6


@dataclass
class Tally:
    """Every answer the load got."""

    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    unavailable: list[httpx.Response] = field(default_factory=list)
    conflicts: Counter[str] = field(default_factory=Counter)
    verified: list[str] = field(default_factory=list)
    verify_attempts: int = 0
    transport_errors: int = 0

    def note(self, what: str, response: httpx.Response) -> None:
        self.answers[(what, response.status_code)] += 1
        if response.status_code == 503:
            self.unavailable.append(response)
        elif response.status_code == 409:
            self.conflicts[response.json()["error"]] += 1


async def _check(http: httpx.AsyncClient, terminal: dict[str, str], card: Any, tally: Tally) -> None:
    challenge = await http.post("/v1/challenges", json={"purpose": "verify"}, headers=bearer(terminal["token"]))
    tally.note("challenge", challenge)
    if challenge.status_code != 201:
        return
    body = challenge.json()
    signature = card.sign(base64.b64decode(body["nonce"]), pin="1234")
    tally.verify_attempts += 1
    answer = await http.post("/v1/verifications", headers=bearer(terminal["token"]), json={
        "challenge_id": body["challenge_id"], "presence": {"method": "pin"},
        "certificate": base64.b64encode(card.certificate_der).decode(),
        "signature": base64.b64encode(signature).decode()})
    tally.note("verify", answer)
    if answer.status_code == 200:
        assert answer.json()["result"] == "eligible", answer.text
        tally.verified.append(answer.json()["verification_id"])


async def _load(url: str, terminal: dict[str, str], cards: list[Any], tally: Tally, stop: asyncio.Event) -> None:
    async def client(n: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            while not stop.is_set():
                try:
                    await _check(http, terminal, cards[n % len(cards)], tally)
                except httpx.TransportError:  # the service is down (killed): a terminal retries with backoff
                    tally.transport_errors += 1
                    await asyncio.sleep(0.1)

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))


async def _setup(
    service: Service, conn: asyncpg.Connection, directory: Path, *, month: int
) -> tuple[dict[str, str], list[Any]]:
    """A terminal and three linked cards (born in `month` of 1970: people of other tests are born elsewhen)."""
    authority = CertificateAuthority.load_or_create(service.data_dir / "authority", allow_create=False)
    terminal = await make_terminal(conn)
    cards = []
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
        for day in (1, 2, 3):
            born = date(1970, month, day)
            cards.append(await linked_card(http, conn, authority, directory, birthdate=born,
                                           row=eligibility_row(birthdate=born.isoformat())))
    return terminal, cards


async def _during(load: asyncio.Task[None], *faults: Callable[[], Any]) -> None:
    for fault in faults:
        await asyncio.sleep(0.8)
        await asyncio.to_thread(fault)
    await asyncio.sleep(0.8)
    assert not load.done(), load


def _assert_honest(tally: Tally) -> None:
    print(f"answers {dict(tally.answers)}; conflicts {dict(tally.conflicts)}; transport errors "
          f"{tally.transport_errors}; verified {len(tally.verified)} of {tally.verify_attempts}")
    assert {status for _, status in tally.answers} <= {200, 201, 409, 503}, tally.answers  # never a 500
    assert set(tally.conflicts) <= {"challenge_not_usable", "challenge_expired"}  # challenges lost with Redis
    for response in tally.unavailable:
        assert response.json()["error"] == "service_unavailable" and response.json()["detail"]
        assert int(response.headers["retry-after"]) > 0 and response.headers["x-request-id"]


async def _assert_all_recorded(postgres: Postgres, tally: Tally) -> None:
    conn = await asyncpg.connect(postgres.url)
    try:
        stored = {str(r["id"]) for r in await conn.fetch("SELECT id FROM verifications")}
    finally:
        await conn.close()
    missing = set(tally.verified) - stored
    print(f"verifications answered 200: {len(tally.verified)}, in the database: {len(stored)}, lost: {len(missing)}")
    assert not missing  # 0 lost
    assert len(tally.verified) == len(set(tally.verified))  # 0 answered twice


async def _recovered(url: str, terminal: dict[str, str], cards: list[Any]) -> Tally:
    after = Tally()
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for card in cards:
            await _check(http, terminal, card, after)
    assert after.answers == Counter({("challenge", 201): 3, ("verify", 200): 3}), after.answers
    return after


async def test_verifications_through_postgres_and_redis_outages(
    start_service: Callable[[], Service], postgres: Postgres, fault_redis: Redis, fault_db: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    service = start_service()
    service.start()
    terminal, cards = await _setup(service, fault_db, tmp_path, month=5)
    tally, stop = Tally(), asyncio.Event()
    load = asyncio.create_task(_load(service.url, terminal, cards, tally, stop))
    started = time.monotonic()
    await _during(load, postgres.restart, postgres.stop)
    await asyncio.sleep(2.0)  # PostgreSQL stays down two seconds
    await _during(load, postgres.start, fault_redis.stop)
    await asyncio.sleep(1.0)  # Redis stays down a second
    await asyncio.to_thread(fault_redis.start)
    await asyncio.sleep(0.8)
    stop.set()
    await load
    print(f"load ran {time.monotonic() - started:.1f} s")
    _assert_honest(tally)
    assert tally.unavailable, "no request met the outage: the test proved nothing"
    tally.verified += (await _recovered(service.url, terminal, cards)).verified  # no restart of the service
    await _assert_all_recorded(postgres, tally)
    assert "unhandled error" not in service.logs()


async def test_verifications_through_a_killed_and_restarted_service(
    start_service: Callable[[], Service], postgres: Postgres, fault_db: asyncpg.Connection, tmp_path: Path,
) -> None:
    first = start_service()
    first.start()
    terminal, cards = await _setup(first, fault_db, tmp_path, month=6)
    second = start_service()
    second.port, second.url, second.env = first.port, first.url, {**first.env}  # the same address
    tally, stop = Tally(), asyncio.Event()
    load = asyncio.create_task(_load(first.url, terminal, cards, tally, stop))
    await _during(load, first.kill)
    restarted = await asyncio.to_thread(second.start)
    await asyncio.sleep(0.8)
    stop.set()
    with contextlib.suppress(asyncio.CancelledError):
        await load
    print(f"SIGKILL, then the service was back in {restarted:.1f} s")
    _assert_honest(tally)
    assert tally.transport_errors, "no request met the kill: the test proved nothing"
    tally.verified += (await _recovered(second.url, terminal, cards)).verified
    await _assert_all_recorded(postgres, tally)
    assert "unhandled error" not in first.logs() + second.logs()
