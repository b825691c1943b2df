"""`python -m loadtests.fixtures --out loadtests/.fixture.json --cards 500 --terminals 50`: seed a load test.

Creates facilities with reception terminals, an insurer, card holders with certificates, eligibility records
(through the real batch pipeline) and registrations (利用登録, five-field linking), through the service code on
DATABASE_URL or the embedded PostgreSQL under ONSHI_DATA_DIR, and writes the fixture file the scenarios read.
The server must use the same authority (same ONSHI_DATA_DIR or ONSHI_AUTHORITY_DIR), or every card is untrusted.

Cards share a few RSA keys (`--keys`): generating a 2048-bit key costs ~50 ms, and the server never sees the
private key; each card still has its own certificate and serial, and every request is really signed.
Holders are made unique per run (birthdate, and the run number in the address), so running it again on the
same database adds cards without linking anyone to another run's records.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.fixture_file import FORMAT, KINDS, PROFILE, write
from service.accounts import service as accounts
from service.accounts.errors import AlreadyExists
from service.app import batch_sinks
from service.authority import service as authority_service
from service.authority.ca import CertificateAuthority, generate_card_key
from service.authority.schemas import IdentityAttributes
from service.batches import service as batches
from service.batches.worker import BatchWorker
from service.core.database import create_pool
from service.core.identifiers import insurer_check_digit
from service.core.settings import Settings, get_settings
from service.linking import service as linking
from service.runtime import load_authority, prepare

ACTOR = "loadtest-fixture"
FACILITY_TYPES = ("clinic", "clinic", "clinic", "pharmacy", "pharmacy", "dental", "hospital")
FAMILY = (("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
          ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
          ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("松本", "マツモト"), ("井上", "イノウエ"))
GIVEN = {1: (("太郎", "タロウ"), ("健", "ケン"), ("翔太", "ショウタ"), ("大輔", "ダイスケ"), ("誠", "マコト")),
         2: (("花子", "ハナコ"), ("陽子", "ヨウコ"), ("美咲", "ミサキ"), ("結衣", "ユイ"), ("恵", "メグミ"))}
HEADER = ("record_id,action,symbol,number,branch,holder_kind,name_kanji,name_kana,birthdate,sex,address,"
          "postal_code,qualified_on,disqualified_on,copay_ratio,limit_category")
# Registration outcomes that leave each kind's answer as PROFILE says (another run's look-alike may add a review).
_REGISTRATION = {"code_4": {"no_match", "needs_review"}, "code_5": {"ambiguous"}}
_STATUS_ACTION = {"suspended": "suspend", "revoked": "revoke"}


def kind_counts(cards: int, profile: dict[str, int] = PROFILE) -> dict[str, int]:
    """Cards per kind by largest remainder, at least one of each kind when there are enough cards."""
    total = sum(profile.values())
    exact = {k: cards * share / total for k, share in profile.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[: cards - sum(counts.values())]:
        counts[k] += 1
    if cards >= len(profile):
        for k in profile:
            while counts[k] == 0:
                donor = max(counts, key=lambda d: counts[d])
                counts[donor] -= 1
                counts[k] += 1
    return counts


@dataclass(frozen=True, slots=True)
class Person:
    """A card holder to create, with the records an insurer keeps about them."""

    index: int
    kind: str
    identity: IdentityAttributes
    records: list[dict[str, str]]

    @property
    def shown_number(self) -> str | None:
        """The insured number (番号) the answer shows: the first record's, when the kind shows one."""
        return self.records[0]["number"] if KINDS[self.kind][2] else None


def _record(person: int, seq: int, identity: IdentityAttributes, *, run: int, qualified: date,
            disqualified: date | None) -> dict[str, str]:
    return {
        "record_id": f"LT{run:03d}-{person:06d}-{seq}", "action": "upsert", "symbol": str(10 + person % 80),
        "number": f"{run:03d}{person:06d}{seq}", "branch": "00", "holder_kind": "1",
        "name_kanji": identity.name_kanji, "name_kana": identity.name_kana,
        "birthdate": identity.birthdate.isoformat(), "sex": str(identity.sex), "address": identity.address,
        "postal_code": "1000013", "qualified_on": qualified.isoformat(),
        "disqualified_on": disqualified.isoformat() if disqualified else "", "copay_ratio": "30",
        "limit_category": "",
    }


def _records(kind: str, index: int, identity: IdentityAttributes, *, run: int, today: date) -> list[dict[str, str]]:
    """The records that make the service answer as `kind` says."""
    long_ago, ended = today - timedelta(days=3000), today - timedelta(days=400)
    if kind == "code_4":
        return []
    if kind in ("code_2", "code_3"):
        old = _record(index, 1, identity, run=run, qualified=long_ago, disqualified=ended)
        if kind == "code_2":
            return [old]
        return [old, _record(index, 2, identity, run=run, qualified=today + timedelta(days=365), disqualified=None)]
    current = _record(index, 1, identity, run=run, qualified=today - timedelta(days=2000), disqualified=None)
    if kind == "code_5":  # the same person twice at one insurer, overlapping: the check must not guess
        return [current, _record(index, 2, identity, run=run, qualified=long_ago, disqualified=None)]
    return [current]


def people(counts: dict[str, int], *, run: int, today: date) -> list[Person]:
    """Synthetic holders: unique birthdates within a run, the run number in the address."""
    out: list[Person] = []
    start = date(1935, 1, 1) + timedelta(days=(run * 7919) % 9000)
    kinds = [k for k, n in counts.items() for _ in range(n)]
    for index, kind in enumerate(kinds):
        sex = 1 + index % 2
        family, given = FAMILY[index % len(FAMILY)], GIVEN[sex][(index // len(FAMILY)) % len(GIVEN[sex])]
        identity = IdentityAttributes(
            name_kanji=f"{family[0]} {given[0]}", name_kana=f"{family[1]} {given[1]}",
            birthdate=start + timedelta(days=index % 25000), sex=sex,
            address=f"東京都千代田区霞が関{1 + index % 3}丁目{1 + index % 20}番{run}号",
        )
        out.append(Person(index=index, kind=kind, identity=identity,
                          records=_records(kind, index, identity, run=run, today=today)))
    return out


def _csv(rows: Sequence[dict[str, str]]) -> bytes:
    columns = HEADER.split(",")
    return ("\n".join([HEADER, *(",".join(row[c] for c in columns) for row in rows)]) + "\n").encode()


async def create_accounts(conn: asyncpg.Connection, *, run: int, terminals: int) -> dict[str, Any]:
    """Facilities (of every type, in turn) with reception terminals, and an insurer, all with their tokens."""
    facilities = [f"9{run:03d}{i:06d}" for i in range(max(1, (terminals + 1) // 2))]
    for i, code in enumerate(facilities):
        await accounts.create_facility(conn, code=code, name=f"負荷試験 施設{i + 1}",
                                       type_=FACILITY_TYPES[i % len(FACILITY_TYPES)])
    made = [{**await accounts.create_terminal(conn, facility_code=facilities[i % len(facilities)]),
             "facility_code": facilities[i % len(facilities)]} for i in range(terminals)]
    return {"terminals": made, "insurer": await _insurer(conn, run=run)}


async def _insurer(conn: asyncpg.Connection, *, run: int) -> dict[str, str]:
    for attempt in range(20):
        body = f"0613{(run + attempt) % 1000:03d}"
        try:
            return await accounts.create_insurer(conn, number=body + str(insurer_check_digit(body)),
                                                 name="負荷試験健康保険組合")
        except AlreadyExists:
            continue
    raise RuntimeError("no free insurer number: use a fresh database")


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _holders(
    conn: asyncpg.Connection, *, authority: CertificateAuthority, persons: list[Person], keys: list[rsa.RSAPrivateKey]
) -> list[dict[str, Any]]:
    cards = []
    for person in persons:
        key_index = person.index % len(keys)
        certificate, _ = authority_service.issue_certificate(authority, birthdate=person.identity.birthdate,
                                                             key=keys[key_index])
        der = certificate.public_bytes(serialization.Encoding.DER)
        done = await authority_service.register_holder(conn, authority=authority, certificate_der=der,
                                                       identity=person.identity, actor=ACTOR)
        result, code, _ = KINDS[person.kind]
        cards.append({"serial": done.serial, "certificate": base64.b64encode(der).decode(), "key": key_index,
                      "kind": person.kind, "result": result, "validity_code": code, "number": person.shown_number,
                      "holder_id": done.holder_id})
    return cards


async def _upload_records(pool: asyncpg.Pool, settings: Settings, *, insurer: str, run: int,
                          persons: list[Person]) -> None:
    rows = [row for p in persons for row in p.records]
    upload = batches.Upload(kind="eligibility", owner=f"insurer:{insurer}", insurer_number=insurer,
                            idempotency_key=f"loadtest-fixture-{run}", content_type="text/csv", content_length=None)
    async with pool.acquire() as conn, conn.transaction():
        received = await batches.receive(conn, upload=upload, body=_body(_csv(rows)),
                                         max_bytes=settings.max_batch_bytes, chunk_bytes=settings.batch_chunk_bytes)
    worker = BatchWorker(pool=pool, settings=settings, sinks=batch_sinks())
    while await worker.run_once():
        pass
    batch, errors = await batches.status(pool, batch_id=received.batch_id, owner=upload.owner, errors_offset=0,
                                         errors_limit=5)
    if batch.status != "done" or batch.rows_accepted != len(rows):
        raise RuntimeError(f"the fixture's eligibility batch was not fully accepted: {batch.status}, {errors}")


async def _register(conn: asyncpg.Connection, cards: list[dict[str, Any]]) -> None:
    for card in cards:
        if card["kind"] == "not_registered":
            continue
        outcome = await linking.register(conn, holder_id=card["holder_id"], serial=card["serial"], actor=ACTOR)
        if outcome.status not in _REGISTRATION.get(card["kind"], {"linked"}):
            raise RuntimeError(f"registration of a {card['kind']} card gave {outcome.status}: use a fresh database")
        if card["kind"] in _STATUS_ACTION:
            await authority_service.change_status(conn, serial=card["serial"], action=_STATUS_ACTION[card["kind"]],
                                                  reason=None, actor=ACTOR)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


async def build(settings: Settings, *, cards: int, terminals: int, keys: int, today: date | None = None,
                run: int | None = None) -> dict[str, Any]:
    """Seed the database named by `settings` and return the fixture document (not yet written)."""
    assert settings.database_url is not None
    run = secrets.randbelow(1000) if run is None else run
    authority = load_authority(settings)
    persons = people(kind_counts(cards), run=run, today=today or date.today())
    card_keys = [generate_card_key() for _ in range(max(1, min(keys, cards)))]
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn, conn.transaction():
            made = await create_accounts(conn, run=run, terminals=terminals)
            issued = await _holders(conn, authority=authority, persons=persons, keys=card_keys)
        await _upload_records(pool, settings, insurer=made["insurer"]["insurer_number"], run=run, persons=persons)
        async with pool.acquire() as conn, conn.transaction():
            await _register(conn, issued)
    finally:
        await pool.close()
    for card in issued:
        del card["holder_id"]
    return {"format": FORMAT, "run": run, "insurer": made["insurer"], "terminals": made["terminals"],
            "keys": [_pem(k) for k in card_keys], "cards": issued}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, seed, write the fixture file, print a one-line JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.fixtures", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("loadtests/.fixture.json"))
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--keys", type=int, default=25, help="distinct RSA keys shared by the cards")
    args = parser.parse_args(argv)
    if args.cards < 1 or args.terminals < 1 or args.keys < 1:
        parser.error("--cards, --terminals and --keys must be at least 1")
    started = time.perf_counter()
    settings = prepare(get_settings(), with_redis=False)
    document = asyncio.run(build(settings, cards=args.cards, terminals=args.terminals, keys=args.keys))
    write(args.out, document)
    counts: dict[str, int] = {}
    for card in document["cards"]:
        counts[card["kind"]] = counts.get(card["kind"], 0) + 1
    print(json.dumps({"fixture": str(args.out), "run": document["run"], "terminals": len(document["terminals"]),
                      "cards": counts, "seconds": round(time.perf_counter() - started, 1)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
