"""Five-field linking in both directions, with ambiguity detection, the review queue and evidence.

An eligibility record is linked to a card holder only when all five fields (kanji name, kana name, birthdate,
sex, address) are equal after normalisation. Candidates share the birthdate and the kanji or the kana name;
a candidate that differs in any field goes to the insurer's review queue with the differing fields; two or
more exact matches link nothing (validity code 5). Every decision keeps its evidence in `link_decisions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import asyncpg

from service.core import metrics
from service.linking import repository as repo
from service.linking.errors import NotRegistered
from service.linking.matcher import Identity, MatchResult, compare

RULE = "five_fields_exact"
_FAR_FUTURE = date(9999, 12, 31)


@dataclass(slots=True)
class LinkCounts:
    """Outcomes of matching a set of records."""

    linked: int = 0
    needs_review: int = 0
    ambiguous: int = 0

    def add(self, outcome: str) -> None:
        """Count one record's outcome."""
        if outcome == "linked":
            self.linked += 1
        elif outcome == "needs_review":
            self.needs_review += 1
        elif outcome == "ambiguous":
            self.ambiguous += 1


@dataclass(slots=True)
class Registration:
    """The outcome of a holder's registration (利用登録)."""

    status: str  # linked | needs_review | no_match | ambiguous | already_linked
    linked: list[repo.RecordVersion] = field(default_factory=list)


def review_fields(result: MatchResult) -> dict[str, object]:
    """The review item's fields: each differing field with both values and why they differ."""
    return {c.field: {"record": c.record, "holder": c.holder, "reason": c.reason} for c in result.differing}


def _evidence(result: MatchResult, **extra: object) -> dict[str, object]:
    return {"rule": RULE, **extra, **result.evidence()}


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return a_from < (b_to or _FAR_FUTURE) and b_from < (a_to or _FAR_FUTURE)


class _Decider:
    """Writes one decision at a time: evidence first, then its effect."""

    def __init__(self, conn: asyncpg.Connection, *, direction: str, actor: str) -> None:
        self.conn = conn
        self.direction = direction
        self.actor = actor

    async def decide(
        self, record: repo.RecordVersion, holder_id: int, outcome: str, evidence: dict[str, object]
    ) -> int:
        metrics.link_decisions.labels(self.direction, outcome).inc()
        return await repo.insert_decision(
            self.conn, holder_id=holder_id, record=record, direction=self.direction, outcome=outcome,
            evidence=evidence, actor=self.actor,
        )

    async def link(self, record: repo.RecordVersion, holder_id: int, result: MatchResult) -> None:
        decision = await self.decide(record, holder_id, "linked", _evidence(result))
        await repo.insert_link(self.conn, holder_id=holder_id, record=record, decision_id=decision)

    async def keep(self, record: repo.RecordVersion, holder_id: int, result: MatchResult) -> None:
        await self.decide(record, holder_id, "kept", _evidence(result))

    async def unlink(self, record: repo.RecordVersion, holder_id: int, reason: str, result: MatchResult | None) -> None:
        evidence: dict[str, object] = (
            _evidence(result, reason=reason) if result else {"rule": RULE, "reason": reason}
        )
        await self.decide(record, holder_id, "unlinked", evidence)
        await repo.end_link(self.conn, insurer_number=record.insurer_number, record_id=record.record_id, reason=reason)

    async def review(self, record: repo.RecordVersion, holder_id: int, result: MatchResult) -> None:
        decision = await self.decide(record, holder_id, "needs_review", _evidence(result))
        await repo.insert_review(
            self.conn, record=record, holder_id=holder_id, reason="fields_differ", fields=review_fields(result),
            decision_id=decision,
        )

    async def ambiguous(self, record: repo.RecordVersion, holder_id: int, result: MatchResult, why: str) -> None:
        decision = await self.decide(record, holder_id, "ambiguous", _evidence(result, ambiguity=why))
        await repo.insert_review(
            self.conn, record=record, holder_id=holder_id, reason="ambiguous", fields={"ambiguity": why},
            decision_id=decision,
        )


async def link_uploaded(conn: asyncpg.Connection, *, version_ids: list[int], actor: str) -> LinkCounts:
    """Match new record versions against registered holders (the upload direction).

    Birthdates are locked before anything is read, so that a registration running at the same time either
    sees these records or is seen by this step: a link is never missed by both.
    """
    counts = LinkCounts()
    if not version_ids:
        return counts
    await repo.lock_birthdates_of_versions(conn, version_ids)
    await repo.resolve_reviews_of_versions(conn, version_ids, resolution="new_version")
    linked_to = await repo.active_links_of_versions(conn, version_ids)
    candidates = await repo.candidates_for_records(conn, version_ids)
    relevant = sorted(set(candidates) | set(linked_to))
    if not relevant:
        return counts  # nobody registered resembles these people: nothing to decide
    records = await repo.record_versions(conn, relevant)
    identities = await repo.holder_identities(conn, list(set(linked_to.values())))
    holder_ids = {c.holder_id for found in candidates.values() for c in found} | set(linked_to.values())
    holder_links = await repo.active_links_of_holders(conn, list(holder_ids))
    decider = _Decider(conn, direction="upload", actor=actor)
    for record in records:
        compared = [(c.holder_id, compare(record.identity, c.identity)) for c in candidates.get(record.id, [])]
        current = linked_to.get(record.id)
        if current is not None and current not in {h for h, _ in compared}:
            compared.append((current, compare(record.identity, identities[current])))
        counts.add(await _decide_record(decider, record, compared, current, holder_links))
    return counts


async def _decide_record(
    decider: _Decider, record: repo.RecordVersion, compared: list[tuple[int, MatchResult]], current: int | None,
    holder_links: list[repo.ActiveLink],
) -> str:
    exact = [(h, r) for h, r in compared if r.matched]
    if len(exact) >= 2:
        if current is not None:
            await decider.unlink(record, current, "ambiguous", None)
        for holder_id, result in exact:
            await decider.ambiguous(record, holder_id, result, "several_holders_match")
        return "ambiguous"
    if len(exact) == 1:
        return await _decide_single(decider, record, exact[0], current, compared, holder_links)
    for holder_id, result in compared:
        if holder_id == current:
            await decider.unlink(record, holder_id, "record_changed", result)
        await decider.review(record, holder_id, result)
    return "needs_review" if compared else "no_match"


async def _decide_single(
    decider: _Decider, record: repo.RecordVersion, match: tuple[int, MatchResult], current: int | None,
    compared: list[tuple[int, MatchResult]], holder_links: list[repo.ActiveLink],
) -> str:
    holder_id, result = match
    if current == holder_id:
        await decider.keep(record, holder_id, result)
        return "kept"
    if current is not None:
        previous = next(r for h, r in compared if h == current)
        await decider.unlink(record, current, "record_changed", previous)
    if _duplicates(record, holder_id, holder_links):
        await decider.ambiguous(record, holder_id, result, "holder_has_overlapping_record_of_same_insurer")
        return "ambiguous"
    await decider.link(record, holder_id, result)
    holder_links.append(repo.ActiveLink(holder_id, record.insurer_number, record.record_id, record.qualified_on,
                                        record.disqualified_on))
    return "linked"


def _duplicates(record: repo.RecordVersion, holder_id: int, links: list[repo.ActiveLink]) -> bool:
    """The same insurer already covers this holder over an overlapping period under another record id."""
    return any(
        link.holder_id == holder_id and link.insurer_number == record.insurer_number
        and link.record_id != record.record_id
        and _overlaps(link.qualified_on, link.disqualified_on, record.qualified_on, record.disqualified_on)
        for link in links
    )


async def register(conn: asyncpg.Connection, *, holder_id: int, serial: str, actor: str) -> Registration:
    """利用登録 by the holder's own signed request: register, then match records in the registration direction."""
    identity = (await repo.holder_identities(conn, [holder_id]))[holder_id]
    await repo.lock_birthdates(conn, [identity.birthdate])
    if not await repo.insert_registration(conn, holder_id=holder_id, serial=serial):
        linked = await repo.linked_records_of_holder(conn, holder_id)
        if linked:
            return Registration(status="already_linked", linked=linked)
    return await _match_holder(conn, holder_id=holder_id, identity=identity, actor=actor)


async def _match_holder(conn: asyncpg.Connection, *, holder_id: int, identity: Identity, actor: str) -> Registration:
    decider = _Decider(conn, direction="registration", actor=actor)
    compared = [(rec, compare(rec.identity, identity), linked) for rec, linked in
                await repo.candidates_for_holder(conn, holder_id)]
    ambiguous = await _identical_people(decider, holder_id, compared)
    exact = [(rec, res) for rec, res, linked in compared if res.matched and rec.id not in ambiguous]
    ambiguous |= await _same_insurer_overlaps(decider, holder_id, exact)
    linked = []
    for rec, res, linked_holder in compared:
        if not res.matched:
            await decider.review(rec, holder_id, res)
        elif rec.id not in ambiguous:
            if linked_holder != holder_id:
                await decider.link(rec, holder_id, res)
            linked.append(rec)
    reviewed = any(not res.matched for _, res, _ in compared)
    status = "ambiguous" if ambiguous else "linked" if linked else "needs_review" if reviewed else "no_match"
    return Registration(status=status, linked=linked)


async def _identical_people(
    decider: _Decider, holder_id: int, compared: list[tuple[repo.RecordVersion, MatchResult, int | None]]
) -> set[int]:
    """Exact matches already linked to another holder: two people identical on five fields. Link neither."""
    found: set[int] = set()
    for rec, res, linked in compared:
        if res.matched and linked is not None and linked != holder_id:
            await decider.unlink(rec, linked, "ambiguous", None)
            await decider.ambiguous(rec, linked, res, "several_holders_match")
            await decider.ambiguous(rec, holder_id, res, "several_holders_match")
            found.add(rec.id)
    return found


async def _same_insurer_overlaps(
    decider: _Decider, holder_id: int, exact: list[tuple[repo.RecordVersion, MatchResult]]
) -> set[int]:
    """Two exact records of one insurer covering overlapping periods: the same person twice. Link neither."""
    found: set[int] = set()
    for i, (a, _) in enumerate(exact):
        for b, _ in exact[i + 1:]:
            if a.insurer_number == b.insurer_number and _overlaps(
                a.qualified_on, a.disqualified_on, b.qualified_on, b.disqualified_on
            ):
                found |= {a.id, b.id}
    for rec, res in exact:
        if rec.id in found:
            await decider.ambiguous(rec, holder_id, res, "several_records_of_same_insurer")
    return found


async def unregister(conn: asyncpg.Connection, *, holder_id: int, actor: str) -> int:
    """利用登録解除 by the holder's own request: end the registration and every link; returns links ended."""
    if not await repo.end_registration(conn, holder_id):
        raise NotRegistered("this card is not registered for insurance use")
    decider = _Decider(conn, direction="unlink", actor=actor)
    records = await repo.linked_records_of_holder(conn, holder_id)
    for record in records:
        await decider.unlink(record, holder_id, "holder_request", None)
    await repo.resolve_reviews_of_holder(conn, holder_id=holder_id, resolution="holder_unregistered")
    return len(records)


async def list_reviews(
    conn: asyncpg.Connection, *, insurer_number: str, limit: int, offset: int
) -> list[dict[str, object]]:
    """The insurer's open review items as the contract shows them (never the holder's id)."""
    rows = await repo.open_reviews(conn, insurer_number=insurer_number, limit=limit, offset=offset)
    return [
        {"record_id": r["record_id"], "reason": r["reason"], "fields": r["fields"],
         "created_at": r["created_at"].isoformat()}
        for r in rows
    ]
