"""The convenience-store incident, made impossible: concurrent checks never answer with another person's data.

2,000 verifications of 200 different cards from 20 terminals run concurrently; every response must name the
holder whose card signed that request, and every challenge is used exactly once.
"""

from __future__ import annotations

import asyncio
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cryptography.hazmat.primitives.serialization import Encoding
from faker import Faker
from fastapi import FastAPI

from service.authority import service as authority_service
from service.authority.ca import CertificateAuthority
from service.linking import service as linking
from tests.factories import (
    eligibility_csv,
    eligibility_row,
    identity,
    make_insurer,
    make_terminal,
    upload_and_wait,
    verify_card,
)
from virtualcard import VirtualCard

CARDS, TERMINALS, CHECKS, CONCURRENCY = 200, 20, 2000, 64


def _people() -> list[dict[str, Any]]:
    fake = Faker("ja_JP")
    Faker.seed(11)
    people = []
    for i in range(CARDS):
        family, given = fake.last_name_pair(), fake.first_name_female_pair()
        people.append(
            {
                "name_kanji": f"{family[0]} {given[0]}",
                "name_kana": f"{family[1]} {given[1]}",
                "birthdate": date(1950, 1, 1) + timedelta(days=97 * i),
                "sex": 2,
                "address": f"東京都千代田区霞が関{i % 3 + 1}丁目{i + 1}番1号",
                "number": str(500000 + i),
            }
        )
    return people


async def _cards(
    conn: asyncpg.Connection, authority: CertificateAuthority, tmp_path: Path, people: list[dict[str, Any]]
) -> list[VirtualCard]:
    cards = []
    for i, person in enumerate(people):
        attrs = identity(**{k: v for k, v in person.items() if k != "number"})
        certificate, key = authority_service.issue_certificate(authority, birthdate=attrs.birthdate)
        der = certificate.public_bytes(Encoding.DER)
        async with conn.transaction():
            registered = await authority_service.register_holder(
                conn, authority=authority, certificate_der=der, identity=attrs, actor="test"
            )
            await linking.register(conn, holder_id=registered.holder_id, serial=registered.serial, actor="test")
        cards.append(VirtualCard.create(tmp_path / f"card-{i}.json", certificate_der=der, private_key=key, pin="1234"))
    return cards


async def test_concurrent_checks_never_cross_talk(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    people = _people()
    insurer = await make_insurer(conn)
    rows = [
        eligibility_row(
            record_id=f"P{i:03d}",
            name_kanji=p["name_kanji"],
            name_kana=p["name_kana"],
            birthdate=p["birthdate"].isoformat(),
            sex="2",
            address=p["address"],
            number=p["number"],
        )
        for i, p in enumerate(people)
    ]
    cards = await _cards(conn, app.state.authority, tmp_path, people)
    status = await upload_and_wait(client, insurer=insurer, body=eligibility_csv(rows))
    assert (status["rows_accepted"], status["linked"]) == (CARDS, CARDS)
    terminals = [await make_terminal(conn) for _ in range(TERMINALS)]
    plan = [(i % CARDS, i % TERMINALS) for i in range(CHECKS)]
    random.Random(5).shuffle(plan)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def check(card_index: int, terminal_index: int) -> tuple[int, dict[str, Any]]:
        async with gate:
            response = await verify_card(client, terminals[terminal_index], cards[card_index])
        assert response.status_code == 200, response.text
        return card_index, response.json()

    answers = await asyncio.gather(*(check(c, t) for c, t in plan))
    def names_the_signer(card_index: int, answer: dict[str, Any]) -> bool:
        person, coverage = people[card_index], answer["coverage"] or {}
        return (answer["result"] == "eligible" and answer["certificate"]["serial"] == cards[card_index].serial
                and coverage.get("number") == person["number"]
                and coverage.get("name_kanji") in {person["name_kanji"], person["name_kanji"].replace(" ", "")})

    wrong = [(i, a["coverage"]) for i, a in answers if not names_the_signer(i, a)]
    assert wrong == []
    assert len({a["verification_id"] for _, a in answers}) == CHECKS
    stored = await conn.fetch(
        "SELECT v.serial, c.holder_id = v.holder_id AS same FROM verifications v "
        "JOIN certificates c ON c.serial = v.serial"
    )
    assert len(stored) == CHECKS and all(r["same"] for r in stored)
