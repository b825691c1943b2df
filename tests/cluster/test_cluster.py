"""Onshi as a cluster (cluster/): HAProxy, two instances, PostgreSQL primary + replica, Redis Cluster 3+3.

A challenge issued by one instance is verified at another; killing an instance under load loses only what was in
flight there (the terminal's retry with a fresh challenge succeeds); a Redis master failing over to its replica
loses no verification (challenges stored on it may be refused with a clear 409). Every verification answered 200
is counted in the primary afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from cluster import Cluster
from service.authority.ca import CertificateAuthority
from service.core.database import create_pool
from tests.factories import bearer, linked_card, make_terminal

TERMINALS = 8


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # eight terminals check as fast as they can here: the per-terminal challenge limit is tested elsewhere
    with Cluster(root=tmp_path_factory.mktemp("cluster"), instances=2,
                 env={"ONSHI_RATE_LIMIT_CHALLENGES": "1000000/1m"}) as running:
        yield running


@pytest.fixture(scope="module")
async def seeded(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    """Terminals and a registered, linked card, made through the balancer and on the primary."""
    pool = await create_pool(cluster.database_url, min_size=1, max_size=2)
    authority = CertificateAuthority.load_or_create(cluster.root / "onshi" / "authority", allow_create=False)
    try:
        async with pool.acquire() as conn, httpx.AsyncClient(base_url=cluster.url, timeout=30) as client:
            card = await linked_card(client, conn, authority, tmp_path_factory.mktemp("cards"))
            terminals = [await make_terminal(conn) for _ in range(TERMINALS)]
        yield {"card": card, "terminals": terminals, "pool": pool}
    finally:
        await pool.close()


def proof(card: Any, challenge: dict[str, str]) -> dict[str, Any]:
    """The card's answer to a challenge, as a terminal sends it."""
    signature = card.sign(base64.b64decode(challenge["nonce"]))
    return {"challenge_id": challenge["challenge_id"], "presence": {"method": "visual"},
            "certificate": base64.b64encode(card.certificate_der).decode(),
            "signature": base64.b64encode(signature).decode()}


async def test_a_challenge_issued_by_one_instance_is_verified_at_another(
    cluster: Cluster, seeded: dict[str, Any]
) -> None:
    terminal, card = seeded["terminals"][0], seeded["card"]
    for issuer, checker in ((0, 1), (1, 0)):
        async with httpx.AsyncClient(base_url=cluster.instance_url(issuer)) as first, \
                httpx.AsyncClient(base_url=cluster.instance_url(checker)) as second:
            challenge = await first.post("/v1/challenges", json={"purpose": "verify"},
                                         headers=bearer(terminal["token"]))
            assert challenge.status_code == 201, challenge.text
            answer = await second.post("/v1/verifications", json=proof(card, challenge.json()),
                                       headers=bearer(terminal["token"]))
            assert answer.status_code == 200, answer.text
            assert (answer.json()["result"], answer.json()["certificate"]["serial"]) == ("eligible", card.serial)
            replay = await first.post("/v1/verifications", json=proof(card, challenge.json()),
                                      headers=bearer(terminal["token"]))
            assert (replay.status_code, replay.json()["error"]) == (409, "challenge_not_usable")  # single use


@dataclass
class Load:
    """Terminals checking the same patient over and over through the balancer, retrying as terminals do."""

    url: str
    card: Any
    terminals: list[dict[str, str]]
    answers: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    verified: list[str] = field(default_factory=list)
    patients: int = 0
    retried: int = 0
    gave_up: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._terminal(t, stop) for t in self.terminals))

    async def _terminal(self, terminal: dict[str, str], stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            while not stop.is_set():
                self.patients += 1
                for attempt in range(5):  # a fresh challenge each time, with a little backoff
                    if await self._check(http, terminal):
                        break
                    self.retried += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
                else:
                    self.gave_up += 1

    async def _check(self, http: httpx.AsyncClient, terminal: dict[str, str]) -> bool:
        try:
            challenge = await http.post("/v1/challenges", json={"purpose": "verify"},
                                        headers=bearer(terminal["token"]))
            self.answers[challenge.status_code] += 1
            if challenge.status_code != 201:
                self._error(challenge)
                return False
            answer = await http.post("/v1/verifications", json=proof(self.card, challenge.json()),
                                     headers=bearer(terminal["token"]))
        except httpx.TransportError as exc:
            self.errors[type(exc).__name__] += 1
            return False
        self.answers[answer.status_code] += 1
        if answer.status_code != 200:
            self._error(answer)
            return False
        assert answer.json()["certificate"]["serial"] == self.card.serial
        self.verified.append(answer.json()["verification_id"])
        return True

    def _error(self, response: httpx.Response) -> None:
        try:
            code = response.json()["error"]
        except ValueError:
            code = f"http {response.status_code}"
        self.errors[code] += 1


async def recorded(pool: asyncpg.Pool, ids: list[str]) -> int:
    """How many of these verifications the primary holds."""
    return int(await pool.fetchval("SELECT count(*) FROM verifications WHERE id = ANY($1::uuid[])", ids))


async def run_load(load: Load, during: Any, *, before: float = 2.0, after: float = 5.0) -> None:
    """Load for `before` seconds, then `during()` (in a thread), then `after` more seconds."""
    stop = asyncio.Event()
    task = asyncio.create_task(load.run(stop))
    await asyncio.sleep(before)
    await asyncio.to_thread(during)
    await asyncio.sleep(after)
    stop.set()
    await task


async def test_killing_an_instance_loses_only_its_in_flight_requests(cluster: Cluster, seeded: dict[str, Any]) -> None:
    load = Load(cluster.url, seeded["card"], seeded["terminals"])
    killed_at: list[float] = []

    def kill() -> None:
        killed_at.append(time.monotonic())
        cluster.kill_instance(0)

    await run_load(load, kill)
    print(f"answers {dict(load.answers)}; errors {dict(load.errors)}; patients {load.patients}, "
          f"retried {load.retried}, gave up {load.gave_up}")
    assert load.gave_up == 0  # every patient was checked, on the first try or after a retry
    assert load.retried <= 2 * len(load.terminals)  # only what was in flight at the killed instance
    assert set(load.errors) <= {"http 502", "http 503", "RemoteProtocolError", "ReadError", "ConnectError"}
    assert await recorded(seeded["pool"], load.verified) == len(load.verified) > 20  # none lost
    cluster.start_instance(0)  # back for the next test, through the balancer's health check
    await asyncio.sleep(1.5)


async def test_a_redis_master_failing_over_loses_no_verification(cluster: Cluster, seeded: dict[str, Any]) -> None:
    terminal = seeded["terminals"][0]
    master = cluster.master_of_key(f"{{{terminal['terminal_id']}}}")
    load = Load(cluster.url, seeded["card"], seeded["terminals"])
    await run_load(load, lambda: cluster.kill_redis_node(master), after=12.0)
    print(f"answers {dict(load.answers)}; errors {dict(load.errors)}; patients {load.patients}, "
          f"retried {load.retried}, gave up {load.gave_up}")
    assert cluster.master_of_key(f"{{{terminal['terminal_id']}}}") != master  # its replica took over
    assert 500 not in load.answers
    assert set(load.errors) <= {"service_unavailable", "challenge_not_usable"}  # a clear 503 or 409, no guess
    assert await recorded(seeded["pool"], load.verified) == len(load.verified) > 20
    assert load.gave_up <= len(load.terminals)  # at most the checks caught in the failover window
    late = Load(cluster.url, seeded["card"], seeded["terminals"])
    await run_load(late, lambda: None, before=0.5, after=2.0)
    assert late.gave_up == late.retried == 0 and late.verified  # after the failover, every check succeeds
    cluster.start_redis_node(master)  # it rejoins as a replica of its old replica
