"""Bulk population for the peak benchmark, loaded with COPY: card holders with real certificates, eligibility
records, registrations and links as five-field matching would have made them, medication and checkup history, and
audit entries in intact hash chains.

Cards follow the load-test fixture's rules (`loadtests.fixtures.people`: each kind of card gets the records that make
the service answer as the kind says), so the locust terminals check every answer against the fixture file: a row
loaded wrongly here shows up as a load-test failure, not as a flattering figure. Certificates are real X.509 signed
by the service's authority; cards share a few RSA keys (the server never sees them) so that signing stays fast.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from loadtests.fixture_file import KINDS
from loadtests.fixtures import Person
from service.audit import service as audit
from service.authority.ca import CertificateAuthority, serial_to_str
from service.core.clock import clock
from service.linking.normalize import normalize_address, normalize_kana_name, normalize_kanji_name
from service.maintenance import repository as partitions

ACTOR = "benchmark-population"
CHUNK = 20_000
_LINKED = {"eligible", "code_2", "code_3", "suspended", "revoked"}
_STATUS = {"suspended": "suspended", "revoked": "revoked"}
_RECORD_COLUMNS = (
    "id", "insurer_number", "record_id", "version", "action", "symbol", "number", "branch", "holder_kind",
    "name_kanji", "name_kana", "birthdate", "sex", "address", "postal_code", "qualified_on", "disqualified_on",
    "copay_ratio", "limit_category", "norm_kanji", "norm_kana", "norm_address",
)
Progress = Callable[[str], None]


def say(message: str) -> None:
    """Progress on stdout, flushed (a benchmark runs for minutes)."""
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", flush=True)


async def allocate(conn: asyncpg.Connection, table: str, count: int) -> list[int]:
    """`count` ids from the table's identity sequence (COPY then supplies them explicitly)."""
    rows = await conn.fetch(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)",
                            count)
    return [row[0] for row in rows]


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass
class Rows:
    """Rows to COPY, per table."""

    holders: list[tuple[Any, ...]] = field(default_factory=list)
    certificates: list[tuple[Any, ...]] = field(default_factory=list)
    records: list[tuple[Any, ...]] = field(default_factory=list)
    registrations: list[tuple[Any, ...]] = field(default_factory=list)
    decisions: list[tuple[Any, ...]] = field(default_factory=list)
    links: list[tuple[Any, ...]] = field(default_factory=list)
    reviews: list[tuple[Any, ...]] = field(default_factory=list)

    async def copy(self, conn: asyncpg.Connection) -> None:
        """Everything, in the order the foreign keys need."""
        targets = (
            ("holders", self.holders, ("id", "name_kanji", "name_kana", "birthdate", "sex", "address", "norm_kanji",
                                       "norm_kana", "norm_address")),
            ("certificates", self.certificates, ("serial", "holder_id", "issuer", "not_before", "not_after",
                                                 "status", "status_reason", "status_changed_at", "der")),
            ("eligibility_records", self.records, _RECORD_COLUMNS),
            ("registrations", self.registrations, ("holder_id", "serial")),
            ("link_decisions", self.decisions, ("id", "holder_id", "insurer_number", "record_id",
                                                "record_version_id", "direction", "outcome", "evidence", "actor")),
            ("links", self.links, ("holder_id", "insurer_number", "record_id", "record_version_id", "decision_id")),
            ("link_reviews", self.reviews, ("insurer_number", "record_id", "record_version_id", "holder_id",
                                            "reason", "fields", "decision_id")),
        )
        for table, rows, columns in targets:
            if rows:
                await conn.copy_records_to_table(table, records=rows, columns=columns)


def _record_row(record_id: int, insurer: str, record: dict[str, str], norms: tuple[str, str, str]) -> tuple[Any, ...]:
    return (
        record_id, insurer, record["record_id"], 1, "upsert", record["symbol"], record["number"], record["branch"],
        int(record["holder_kind"]), record["name_kanji"], record["name_kana"], date.fromisoformat(record["birthdate"]),
        int(record["sex"]), record["address"], record["postal_code"] or None,
        date.fromisoformat(record["qualified_on"]),
        date.fromisoformat(record["disqualified_on"]) if record["disqualified_on"] else None,
        int(record["copay_ratio"]), record["limit_category"] or None, *norms,
    )


@dataclass(frozen=True, slots=True)
class Issued:
    """A card made for a person, as the fixture file lists it."""

    serial: str
    certificate: bytes
    key: int
    person: Person

    def fixture_card(self) -> dict[str, Any]:
        """The fixture file's entry for this card."""
        result, code, _ = KINDS[self.person.kind]
        return {"serial": self.serial, "certificate": base64.b64encode(self.certificate).decode(), "key": self.key,
                "kind": self.person.kind, "result": result, "validity_code": code,
                "number": self.person.shown_number}


async def add_cards(
    conn: asyncpg.Connection, *, authority: CertificateAuthority, keys: Sequence[rsa.RSAPrivateKey],
    persons: Sequence[Person], insurer: str, progress: Progress = say,
) -> list[Issued]:
    """Holders with certificates, their records, registrations and links, in chunks; the cards made."""
    issued: list[Issued] = []
    started, now = time.monotonic(), clock.now()
    for part in chunks(persons):
        rows = Rows()
        holder_ids = await allocate(conn, "holders", len(part))
        record_ids = iter(await allocate(conn, "eligibility_records", sum(len(p.records) for p in part)))
        decisions = sum(len(p.records) for p in part if p.kind in _LINKED or p.kind == "code_5")
        decision_ids = iter(await allocate(conn, "link_decisions", decisions))
        for holder_id, person in zip(holder_ids, part, strict=True):
            issued.append(_add_person(rows, authority=authority, keys=keys, person=person, holder_id=holder_id,
                                      insurer=insurer, record_ids=record_ids, decision_ids=decision_ids, now=now))
        async with conn.transaction():
            await rows.copy(conn)
        progress(f"cards {len(issued):,}/{len(persons):,} ({time.monotonic() - started:.0f} s)")
    return issued


def _add_person(
    rows: Rows, *, authority: CertificateAuthority, keys: Sequence[rsa.RSAPrivateKey], person: Person,
    holder_id: int, insurer: str, record_ids: Iterator[int], decision_ids: Iterator[int], now: datetime,
) -> Issued:
    who = person.identity
    norms = (normalize_kanji_name(who.name_kanji), normalize_kana_name(who.name_kana), normalize_address(who.address))
    rows.holders.append((holder_id, who.name_kanji, who.name_kana, who.birthdate, who.sex, who.address, *norms))
    key = person.index % len(keys)
    certificate = authority.issue_user_certificate(public_key=keys[key].public_key(), birthdate=who.birthdate,
                                                   issued_at=now)
    serial = serial_to_str(certificate.serial_number)
    der = certificate.public_bytes(serialization.Encoding.DER)
    status = _STATUS.get(person.kind, "active")
    rows.certificates.append((serial, holder_id, certificate.issuer.rfc4514_string(),
                              certificate.not_valid_before_utc, certificate.not_valid_after_utc, status,
                              None, now if status != "active" else None, der))
    if person.kind != "not_registered":
        rows.registrations.append((holder_id, serial))
    versions = []
    for record in person.records:
        version_id = next(record_ids)
        rows.records.append(_record_row(version_id, insurer, record, norms))
        versions.append((version_id, record["record_id"]))
    _decide(rows, person=person, holder_id=holder_id, insurer=insurer, versions=versions, decision_ids=decision_ids)
    return Issued(serial=serial, certificate=der, key=key, person=person)


def _decide(rows: Rows, *, person: Person, holder_id: int, insurer: str, versions: list[tuple[int, str]],
            decision_ids: Iterator[int]) -> None:
    """What registration's five-field matching decided: links, or (code 5) an ambiguity in the review queue."""
    if person.kind not in _LINKED and person.kind != "code_5":
        return
    outcome = "linked" if person.kind in _LINKED else "ambiguous"
    evidence = json.dumps({"fields": ["name_kanji", "name_kana", "birthdate", "sex", "address"],
                           "source": ACTOR}, ensure_ascii=False)
    for version_id, record_id in versions:
        decision_id = next(decision_ids)
        rows.decisions.append((decision_id, holder_id, insurer, record_id, version_id, "registration", outcome,
                               evidence, ACTOR))
        if outcome == "linked":
            rows.links.append((holder_id, insurer, record_id, version_id, decision_id))
        else:
            rows.reviews.append((insurer, record_id, version_id, holder_id, "ambiguous",
                                 json.dumps({"ambiguity": "several_records_match"}), decision_id))


_FAMILY = (("佐藤", "サトウ"), ("鈴木", "スズキ"), ("田中", "タナカ"), ("伊藤", "イトウ"), ("渡辺", "ワタナベ"),
           ("中村", "ナカムラ"))
_GIVEN = (("太郎", "タロウ"), ("花子", "ハナコ"), ("健", "ケン"), ("陽子", "ヨウコ"), ("誠", "マコト"),
          ("恵", "メグミ"))


async def add_records(conn: asyncpg.Connection, *, insurers: Sequence[str], count: int, run: int,
                      progress: Progress = say) -> int:
    """Eligibility records of insured people who have no card here (most of an insurer's population)."""
    started, made = time.monotonic(), 0
    while made < count:
        size = min(CHUNK * 5, count - made)
        ids = await allocate(conn, "eligibility_records", size)
        rows = [_filler(i, record_id, insurers, run)
                for i, record_id in zip(range(made, made + size), ids, strict=True)]
        await conn.copy_records_to_table("eligibility_records", records=rows, columns=_RECORD_COLUMNS)
        made += size
        progress(f"records without a card {made:,}/{count:,} ({time.monotonic() - started:.0f} s)")
    return made


def _filler(index: int, record_id: int, insurers: Sequence[str], run: int) -> tuple[Any, ...]:
    family, given = _FAMILY[index % len(_FAMILY)], _GIVEN[(index // len(_FAMILY)) % len(_GIVEN)]
    kanji, kana = f"{family[0]} {given[0]}", f"{family[1]} {given[1]}"
    address = f"大阪府大阪市北区梅田{1 + index % 3}丁目{1 + index % 50}番{index % 997}号"
    return (
        record_id, insurers[index % len(insurers)], f"PX{run:03d}-{index:08d}", 1, "upsert", str(10 + index % 80),
        f"9{run:03d}{index:08d}", "00", 1 + index % 2, kanji, kana, date(1940, 1, 1) + timedelta(days=index % 30000),
        1 + index % 2, address, "5300001", date(2015, 4, 1), None, 30, None, normalize_kanji_name(kanji),
        normalize_kana_name(kana), normalize_address(address),
    )


_DRUGS = (("2149039F1020", "アムロジピン錠5mg", "錠"), ("3969007F1025", "メトホルミン塩酸塩錠250mg", "錠"),
          ("2189017F1022", "アトルバスタチン錠10mg", "錠"), ("1149019F1020", "ロキソプロフェンナトリウム錠60mg", "錠"))


async def add_history(conn: asyncpg.Connection, *, issued: Sequence[Issued], insurer: str, claims_processor: str,
                      facilities: Sequence[str], progress: Progress = say) -> tuple[int, int]:
    """Three years of medication (one dispensing a quarter) and five yearly checkups for each eligible card."""
    rng, today = random.Random(7), clock.today_jst()
    medications, checkups = [], []
    for card in issued:
        if card.person.kind != "eligible":
            continue
        insured = card.person.records[0]
        person = (insured["symbol"], insured["number"], insured["branch"])
        for quarter in range(12):
            code, name, unit = _DRUGS[(card.person.index + quarter) % len(_DRUGS)]
            medications.append((claims_processor, f"{card.serial}-m{quarter}", 1, insurer, *person,
                                today - timedelta(days=91 * quarter + 3), code, name, 28, unit, 28,
                                facilities[quarter % len(facilities)]))
        for year in range(5):
            checkups.append((insurer, f"{card.serial}-c{year}", 1, *person, today - timedelta(days=365 * year + 20),
                             170, round(rng.uniform(55, 85), 1), 23.5, 84, rng.randint(110, 150), rng.randint(65, 95),
                             round(rng.uniform(5.2, 6.8), 1), rng.randint(90, 170), 55, 120, 22, 24, 30))
    await conn.copy_records_to_table("medication_records", records=medications, columns=(
        "claims_processor_id", "record_id", "version", "insurer_number", "symbol", "number", "branch",
        "dispensed_on", "drug_code", "drug_name", "quantity", "unit", "days", "facility_code"))
    await conn.copy_records_to_table("checkup_results", records=checkups, columns=(
        "insurer_number", "record_id", "version", "symbol", "number", "branch", "examined_on", "height_cm",
        "weight_kg", "bmi", "waist_cm", "systolic_bp", "diastolic_bp", "hba1c", "ldl", "hdl", "triglycerides",
        "ast", "alt", "gamma_gtp"))
    progress(f"history: {len(medications):,} dispensings, {len(checkups):,} checkups")
    return len(medications), len(checkups)


def _audit_text(actor: str, at: datetime, verification: str, serial: str) -> str:
    """What `audit.canonical` writes for a verification entry (checked against it for the first entry)."""
    return (f'{{"action":"verification","actor":"{actor}","at":"{at.isoformat()}","subject":{{"presence":"face",'
            f'"result":"eligible","serial":"{serial}","validity_code":1,"verification_id":"{verification}"}}}}')


async def add_audit(conn: asyncpg.Connection, *, count: int, months: int, actors: Sequence[str],
                    serials: Sequence[str], progress: Progress = say) -> int:
    """`count` verification entries appended to every shard's chain, their times spread over the `months` before
    this one (with their partitions); the heads move to the new last entries. The service must not be running."""
    end = clock.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = (end - timedelta(days=31 * months)).replace(day=1)
    await partitions.create_months(conn, table="audit_log", first=first.date(), months=months + 1)
    span = (end - first).total_seconds()
    heads = {r["shard"]: (r["seq"], bytes(r["head"]))
             for r in await conn.fetch("SELECT shard, seq, head FROM audit_heads")}
    by_shard: dict[int, list[str]] = {}
    for actor in actors:
        by_shard.setdefault(audit.shard_of(actor), []).append(actor)
    shards = sorted(by_shard)
    per_shard = -(-count // len(shards))
    sample = _audit_text(actors[0], first, "0" * 32, serials[0])
    assert sample == audit.canonical(action="verification", actor=actors[0], at=first, subject={
        "verification_id": "0" * 32, "serial": serials[0], "result": "eligible", "validity_code": 1,
        "presence": "face"}), "the bulk audit text must be what the service hashes"
    started, made = time.monotonic(), 0
    for shard in shards:
        seq, prev = heads[shard]
        for part in chunks(range(per_shard), CHUNK * 5):
            rows = []
            for i in part:
                at = first + timedelta(seconds=span * i / per_shard)
                text = _audit_text(by_shard[shard][i % len(by_shard[shard])], at, f"{shard:04x}{i:028x}",
                                   serials[i % len(serials)])
                entry_hash = hashlib.sha256(prev + text.encode()).digest()
                seq += 1
                rows.append((shard, seq, at, text, prev, entry_hash))
                prev = entry_hash
            await conn.copy_records_to_table("audit_log", records=rows,
                                             columns=("shard", "seq", "at", "entry", "prev_hash", "entry_hash"))
            made += len(rows)
            progress(f"audit entries {made:,}/{per_shard * len(shards):,} ({time.monotonic() - started:.0f} s)")
        async with conn.transaction():  # a head moves one entry at a time (a trigger): a bulk load is a superuser's
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute("UPDATE audit_heads SET seq = $2, prev = $3, head = $4 WHERE shard = $1",
                               shard, seq, rows[-1][4] if rows else None, prev)
    return made


def pem(key: rsa.RSAPrivateKey) -> str:
    """A card key as the fixture file stores it."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()
