"""All SQL of linking: candidates, links, registrations, decisions (evidence) and the review queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from service.core.database import Connection
from service.linking.matcher import Identity

LINKING_LOCK_NAMESPACE = 7301  # advisory locks on a birthdate serialise matching of people born that day
_EPOCH = date(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """A current eligibility record as matching sees it."""

    id: int
    insurer_number: str
    record_id: str
    identity: Identity
    qualified_on: date
    disqualified_on: date | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A registered holder sharing a birthdate and a name with a record."""

    holder_id: int
    identity: Identity


@dataclass(frozen=True, slots=True)
class ActiveLink:
    """A live link and the period its record covers."""

    holder_id: int
    insurer_number: str
    record_id: str
    qualified_on: date
    disqualified_on: date | None
    version_id: int | None = None  # the linked record's current version


_RECORD = (
    "r.id, r.insurer_number, r.record_id, r.name_kanji, r.name_kana, r.birthdate, r.sex, r.address, "
    "r.qualified_on, r.disqualified_on"
)


def _record(row: asyncpg.Record) -> RecordVersion:
    return RecordVersion(
        id=row["id"],
        insurer_number=row["insurer_number"],
        record_id=row["record_id"],
        identity=Identity(row["name_kanji"], row["name_kana"], row["birthdate"], row["sex"], row["address"]),
        qualified_on=row["qualified_on"],
        disqualified_on=row["disqualified_on"],
    )


def _identity(row: asyncpg.Record) -> Identity:
    return Identity(row["name_kanji"], row["name_kana"], row["birthdate"], row["sex"], row["address"])


async def lock_birthdates(conn: Connection, birthdates: Sequence[date]) -> None:
    """Serialise matching per birthdate, in a fixed order so that two steps never deadlock."""
    keys = sorted({(d - _EPOCH).days for d in birthdates})
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int[]) AS k ORDER BY k", LINKING_LOCK_NAMESPACE, keys
    )


async def lock_birthdates_of_versions(conn: Connection, ids: Sequence[int]) -> None:
    """The same locks, for the birthdates of record versions."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, k) FROM (SELECT DISTINCT (birthdate - DATE '1900-01-01') AS k "
        "FROM eligibility_records WHERE id = ANY($2::bigint[]) ORDER BY 1) AS keys",
        LINKING_LOCK_NAMESPACE,
        ids,
    )


async def record_versions(conn: Connection, ids: Sequence[int]) -> list[RecordVersion]:
    """Record versions by id."""
    rows = await conn.fetch(f"SELECT {_RECORD} FROM eligibility_records r WHERE r.id = ANY($1::bigint[])", ids)
    return [_record(r) for r in rows]


async def candidates_for_records(conn: Connection, ids: Sequence[int]) -> dict[int, list[Candidate]]:
    """Registered holders who may agree with a record on four of the five fields, per record version: born the
    same day with the same normalised kanji or kana name, or with both names the same (a birthdate typo)."""
    rows = await conn.fetch(
        "SELECT r.id AS version_id, h.id AS holder_id, h.name_kanji, h.name_kana, h.birthdate, h.sex, h.address "
        "FROM eligibility_records r "
        "JOIN holders h ON (h.birthdate = r.birthdate AND (h.norm_kana = r.norm_kana OR h.norm_kanji = r.norm_kanji)) "
        "  OR (h.norm_kanji = r.norm_kanji AND h.norm_kana = r.norm_kana) "
        "JOIN registrations g ON g.holder_id = h.id AND g.unregistered_at IS NULL "
        "WHERE r.id = ANY($1::bigint[])",
        ids,
    )
    found: dict[int, list[Candidate]] = {}
    for row in rows:
        found.setdefault(row["version_id"], []).append(Candidate(row["holder_id"], _identity(row)))
    return found


async def candidates_for_holder(conn: Connection, holder_id: int) -> list[tuple[RecordVersion, int | None]]:
    """Current records that may agree with the holder on four of the five fields (as candidates_for_records),
    each with the holder its live link points to (if any)."""
    rows = await conn.fetch(
        f"SELECT {_RECORD}, l.holder_id AS linked_holder FROM holders h JOIN eligibility_records r ON r.is_current "
        "AND ((r.birthdate = h.birthdate AND (r.norm_kana = h.norm_kana OR r.norm_kanji = h.norm_kanji)) "
        "  OR (r.norm_kanji = h.norm_kanji AND r.norm_kana = h.norm_kana)) "
        "LEFT JOIN links l ON l.insurer_number = r.insurer_number AND l.record_id = r.record_id "
        "AND l.unlinked_at IS NULL WHERE h.id = $1 ORDER BY r.insurer_number, r.record_id",
        holder_id,
    )
    return [(_record(r), r["linked_holder"]) for r in rows]


async def holder_identities(conn: Connection, holder_ids: Sequence[int]) -> dict[int, Identity]:
    """Identity attributes of holders."""
    rows = await conn.fetch(
        "SELECT id, name_kanji, name_kana, birthdate, sex, address FROM holders WHERE id = ANY($1::bigint[])",
        holder_ids,
    )
    return {row["id"]: _identity(row) for row in rows}


async def active_links_of_versions(conn: Connection, ids: Sequence[int]) -> dict[int, int]:
    """version id -> holder_id of the live link of that version's record."""
    rows = await conn.fetch(
        "SELECT e.id, l.holder_id FROM eligibility_records e JOIN links l ON l.insurer_number = e.insurer_number "
        "AND l.record_id = e.record_id AND l.unlinked_at IS NULL WHERE e.id = ANY($1::bigint[])",
        ids,
    )
    return {row["id"]: row["holder_id"] for row in rows}


async def active_links_of_holders(conn: Connection, holder_ids: Sequence[int]) -> list[ActiveLink]:
    """Live links of holders with the coverage period of each linked record's current version."""
    rows = await conn.fetch(
        "SELECT e.holder_id, e.insurer_number, e.record_id, e.qualified_on, e.disqualified_on, e.id "
        "FROM linked_current_records e WHERE e.holder_id = ANY($1::bigint[])",
        holder_ids,
    )
    return [
        ActiveLink(holder_id=r["holder_id"], insurer_number=r["insurer_number"], record_id=r["record_id"],
                   qualified_on=r["qualified_on"], disqualified_on=r["disqualified_on"], version_id=r["id"])
        for r in rows
    ]


async def ambiguity_partners(conn: Connection, ids: Sequence[int]) -> list[int]:
    """Current versions of the other records in an open ambiguity with the records of these versions: they are
    matched again with them (one of the two corrected may settle it)."""
    rows = await conn.fetch(
        "SELECT DISTINCT e.id FROM eligibility_records v "
        "JOIN link_reviews mine ON mine.insurer_number = v.insurer_number AND mine.record_id = v.record_id "
        "  AND mine.reason = 'ambiguous' AND mine.resolved_at IS NULL "
        "JOIN link_reviews other ON other.holder_id = mine.holder_id AND other.reason = 'ambiguous' "
        "  AND other.resolved_at IS NULL "
        "  AND (other.insurer_number, other.record_id) <> (mine.insurer_number, mine.record_id) "
        "JOIN eligibility_records e ON e.insurer_number = other.insurer_number AND e.record_id = other.record_id "
        "  AND e.is_current "
        "WHERE v.id = ANY($1::bigint[]) AND NOT e.id = ANY($1::bigint[])",
        ids,
    )
    return [r["id"] for r in rows]


async def insert_decision(
    conn: Connection,
    *,
    holder_id: int | None,
    record: RecordVersion,
    direction: str,
    outcome: str,
    evidence: dict[str, object],
    actor: str,
) -> int:
    """Keep the evidence of one decision; returns its id."""
    value = await conn.fetchval(
        "INSERT INTO link_decisions (holder_id, insurer_number, record_id, record_version_id, direction, outcome, "
        "evidence, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        holder_id,
        record.insurer_number,
        record.record_id,
        record.id,
        direction,
        outcome,
        evidence,
        actor,
    )
    return int(value)


async def insert_link(conn: Connection, *, holder_id: int, record: RecordVersion, decision_id: int) -> None:
    """A live link between a holder and a record."""
    await conn.execute(
        "INSERT INTO links (holder_id, insurer_number, record_id, record_version_id, decision_id) "
        "VALUES ($1, $2, $3, $4, $5)",
        holder_id,
        record.insurer_number,
        record.record_id,
        record.id,
        decision_id,
    )


async def end_link(conn: Connection, *, insurer_number: str, record_id: str, reason: str) -> None:
    """End the live link of a record."""
    await conn.execute(
        "UPDATE links SET unlinked_at = now(), unlink_reason = $3 WHERE insurer_number = $1 AND record_id = $2 "
        "AND unlinked_at IS NULL",
        insurer_number,
        record_id,
        reason,
    )


async def insert_review(
    conn: Connection,
    *,
    record: RecordVersion,
    holder_id: int,
    reason: str,
    fields: dict[str, object],
    decision_id: int,
) -> None:
    """Put a record in its insurer's review queue (one open item per record and holder)."""
    await conn.execute(
        "INSERT INTO link_reviews (insurer_number, record_id, record_version_id, holder_id, reason, fields, "
        "decision_id) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (insurer_number, record_id, holder_id) WHERE resolved_at IS NULL DO UPDATE SET "
        "record_version_id = EXCLUDED.record_version_id, reason = EXCLUDED.reason, fields = EXCLUDED.fields, "
        "decision_id = EXCLUDED.decision_id, created_at = now()",
        record.insurer_number,
        record.record_id,
        record.id,
        holder_id,
        reason,
        fields,
        decision_id,
    )


async def resolve_reviews_of_versions(conn: Connection, ids: Sequence[int], *, resolution: str) -> None:
    """Close open review items of the records of these (new) versions: they are matched afresh."""
    await conn.execute(
        "UPDATE link_reviews r SET resolved_at = now(), resolution = $2 FROM eligibility_records e "
        "WHERE e.id = ANY($1::bigint[]) AND r.insurer_number = e.insurer_number AND r.record_id = e.record_id "
        "AND r.resolved_at IS NULL",
        ids,
        resolution,
    )


async def resolve_reviews_of_holder(conn: Connection, *, holder_id: int, resolution: str) -> None:
    """Close open review items that involve a holder."""
    await conn.execute(
        "UPDATE link_reviews SET resolved_at = now(), resolution = $2 WHERE holder_id = $1 AND resolved_at IS NULL",
        holder_id,
        resolution,
    )


async def insert_registration(conn: Connection, *, holder_id: int, serial: str) -> bool:
    """Register; False when a registration is active already."""
    value = await conn.fetchval(
        "INSERT INTO registrations (holder_id, serial) VALUES ($1, $2) "
        "ON CONFLICT (holder_id) WHERE unregistered_at IS NULL DO NOTHING RETURNING id",
        holder_id,
        serial,
    )
    return value is not None


async def end_registration(conn: Connection, holder_id: int) -> bool:
    """利用登録解除; False when there was none."""
    value = await conn.fetchval(
        "UPDATE registrations SET unregistered_at = now() WHERE holder_id = $1 AND unregistered_at IS NULL "
        "RETURNING id",
        holder_id,
    )
    return value is not None


async def linked_records_of_holder(conn: Connection, holder_id: int) -> list[RecordVersion]:
    """The current versions of the records linked to a holder."""
    rows = await conn.fetch(
        f"SELECT {_RECORD} FROM linked_current_records r WHERE r.holder_id = $1 ORDER BY r.qualified_on",
        holder_id,
    )
    return [_record(r) for r in rows]


async def open_reviews(
    conn: Connection, *, insurer_number: str, limit: int, offset: int
) -> list[asyncpg.Record]:
    """The insurer's open review items, oldest first."""
    return list(
        await conn.fetch(
            "SELECT id, record_id, reason, fields, created_at FROM link_reviews WHERE insurer_number = $1 "
            "AND resolved_at IS NULL ORDER BY created_at, id OFFSET $2 LIMIT $3",
            insurer_number,
            offset,
            limit,
        )
    )
