"""Five-field linking in both directions, with ambiguity detection, the review queue and evidence.

An eligibility record is linked to a card holder only when all five fields (kanji name, kana name, birthdate,
sex, address) are equal after normalisation. A holder who agrees with a record on four of the five fields (a
variant kanji, a birthdate typo) is a review candidate: the record goes to the insurer's review queue with the
differing fields, the holder's value shown only for a spelling variant, so that a review is never a way to
look a person up. Two or more exact matches link nothing (validity code 5), and so do two active records of one
person starting the same day (at one insurer or at two: not a job change), each in its insurer's queue. Every
decision keeps its evidence in `link_decisions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from service.core import metrics
from service.core.database import Connection
from service.linking import repository as repo
from service.linking.errors import NotRegistered
from service.linking.matcher import Identity, MatchResult, compare

RULE = "five_fields_exact"
_FAR_FUTURE = date(9999, 12, 31)
REVIEW_MIN_EQUAL_FIELDS = 4
SPELLING_VARIANTS = frozenset({"variant_kanji", "small_kana", "long_vowel"})  # the holder's value may be shown


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


def is_review_candidate(result: MatchResult) -> bool:
    """Four of the five fields equal (never fewer: a review must not disclose a stranger's data)."""
    return sum(c.equal for c in result.fields) >= REVIEW_MIN_EQUAL_FIELDS


def review_fields(result: MatchResult) -> dict[str, object]:
    """The review item's fields: each differing field with the record's value and why it differs."""
    return disclosed({c.field: {"record": c.record, "holder": c.holder, "reason": c.reason} for c in result.differing})


def disclosed(fields: dict[str, object]) -> dict[str, object]:
    """Review fields as the insurer may see them: the holder's value only for a spelling variant."""
    shown: dict[str, object] = {}
    for name, value in fields.items():
        if isinstance(value, dict) and value.get("reason") not in SPELLING_VARIANTS:
            value = {k: v for k, v in value.items() if k != "holder"}
        shown[name] = value
    return shown


def _evidence(result: MatchResult, **extra: object) -> dict[str, object]:
    return {"rule": RULE, **extra, **result.evidence()}


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return a_from < (b_to or _FAR_FUTURE) and b_from < (a_to or _FAR_FUTURE)


class _Decider:
    """Writes one decision at a time: evidence first, then its effect."""

    def __init__(self, conn: Connection, *, direction: str, actor: str) -> None:
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


async def link_uploaded(conn: Connection, *, version_ids: list[int], actor: str) -> LinkCounts:
    """Match new record versions against registered holders (the upload direction).

    Birthdates are locked before anything is read, so that a registration running at the same time either
    sees these records or is seen by this step: a link is never missed by both.
    """
    counts = LinkCounts()
    if not version_ids:
        return counts
    partners = await repo.ambiguity_partners(conn, version_ids)
    await repo.lock_birthdates_of_versions(conn, [*version_ids, *partners])
    await repo.resolve_reviews_of_versions(conn, version_ids, resolution="new_version")
    await repo.resolve_reviews_of_versions(conn, partners, resolution="matched_again")
    own = set(version_ids)
    version_ids = [*version_ids, *partners]
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
        outcome = await _decide_record(decider, record, compared, current, holder_links)
        if record.id in own:
            counts.add(outcome)
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
    reviewed = False
    for holder_id, result in compared:
        if holder_id == current:
            await decider.unlink(record, holder_id, "record_changed", result)
        if is_review_candidate(result):
            await decider.review(record, holder_id, result)
            reviewed = True
    return "needs_review" if reviewed else "no_match"


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
    conflicts = [link for link in holder_links if link.holder_id == holder_id and _conflict(record, link)]
    if any(link.insurer_number == record.insurer_number for link in conflicts):
        await decider.ambiguous(record, holder_id, result, "holder_has_overlapping_record_of_same_insurer")
        return "ambiguous"
    if conflicts:  # another insurer's active record from the same day: not a job change; link neither
        await _same_day_at_two_insurers(decider, record, holder_id, result, conflicts, holder_links)
        return "ambiguous"
    await decider.link(record, holder_id, result)
    holder_links.append(repo.ActiveLink(holder_id=holder_id, insurer_number=record.insurer_number,
                                        record_id=record.record_id, qualified_on=record.qualified_on,
                                        disqualified_on=record.disqualified_on, version_id=record.id))
    return "linked"


def _conflict(record: repo.RecordVersion, link: repo.ActiveLink) -> bool:
    """A live link the record cannot stand beside (see _two_at_once)."""
    return (link.insurer_number, link.record_id) != (record.insurer_number, record.record_id) and _two_at_once(
        (link.insurer_number, link.qualified_on, link.disqualified_on),
        (record.insurer_number, record.qualified_on, record.disqualified_on),
    )


def _two_at_once(a: tuple[str, date, date | None], b: tuple[str, date, date | None]) -> bool:
    """Two records of one person that cannot both stand: of one insurer over overlapping periods, or of two
    insurers, both active (no 資格喪失日) and starting the same day. A later start elsewhere is a job change,
    and a record its insurer has terminated no longer competes."""
    (insurer_a, from_a, to_a), (insurer_b, from_b, to_b) = a, b
    if insurer_a == insurer_b:
        return _overlaps(from_a, to_a, from_b, to_b)
    return from_a == from_b and to_a is None and to_b is None


async def _same_day_at_two_insurers(
    decider: _Decider, record: repo.RecordVersion, holder_id: int, result: MatchResult,
    conflicts: list[repo.ActiveLink], holder_links: list[repo.ActiveLink],
) -> None:
    """Unlink the other insurers' records and put every one of them in its insurer's review queue."""
    why = "same_day_records_at_two_insurers"
    await decider.ambiguous(record, holder_id, result, why)
    others = await repo.record_versions(decider.conn, [link.version_id for link in conflicts if link.version_id])
    identity = (await repo.holder_identities(decider.conn, [holder_id]))[holder_id]
    for other in others:
        await decider.unlink(other, holder_id, "ambiguous", None)
        await decider.ambiguous(other, holder_id, compare(other.identity, identity), why)
    holder_links[:] = [link for link in holder_links if link not in conflicts]


async def register(conn: Connection, *, holder_id: int, serial: str, actor: str) -> Registration:
    """利用登録 by the holder's own signed request: register, then match records in the registration direction."""
    identity = (await repo.holder_identities(conn, [holder_id]))[holder_id]
    await repo.lock_birthdates(conn, [identity.birthdate])
    if not await repo.insert_registration(conn, holder_id=holder_id, serial=serial):
        linked = await repo.linked_records_of_holder(conn, holder_id)
        if linked:
            return Registration(status="already_linked", linked=linked)
    return await _match_holder(conn, holder_id=holder_id, identity=identity, actor=actor)


async def _match_holder(conn: Connection, *, holder_id: int, identity: Identity, actor: str) -> Registration:
    decider = _Decider(conn, direction="registration", actor=actor)
    compared = [(rec, compare(rec.identity, identity), linked) for rec, linked in
                await repo.candidates_for_holder(conn, holder_id)]
    ambiguous = await _identical_people(decider, holder_id, compared)
    exact = [(rec, res) for rec, res, linked in compared if res.matched and rec.id not in ambiguous]
    ambiguous |= await _conflicting_records(decider, holder_id, exact)
    linked = []
    reviewed = False
    for rec, res, linked_holder in compared:
        if not res.matched:
            if is_review_candidate(res):
                await decider.review(rec, holder_id, res)
                reviewed = True
        elif rec.id not in ambiguous:
            if linked_holder != holder_id:
                await decider.link(rec, holder_id, res)
            linked.append(rec)
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


async def _conflicting_records(
    decider: _Decider, holder_id: int, exact: list[tuple[repo.RecordVersion, MatchResult]]
) -> set[int]:
    """Two exact records over overlapping periods, of one insurer or starting the same day at two: the same
    person twice, or two insurers at once. Link neither; each goes to its insurer's review queue."""
    found: dict[int, str] = {}
    for i, (a, _) in enumerate(exact):
        for b, _ in exact[i + 1:]:
            if not _two_at_once((a.insurer_number, a.qualified_on, a.disqualified_on),
                                (b.insurer_number, b.qualified_on, b.disqualified_on)):
                continue
            if a.insurer_number == b.insurer_number:
                found[a.id] = found[b.id] = "several_records_of_same_insurer"
            else:
                found.setdefault(a.id, "same_day_records_at_two_insurers")
                found.setdefault(b.id, "same_day_records_at_two_insurers")
    for rec, res in exact:
        if rec.id in found:
            await decider.ambiguous(rec, holder_id, res, found[rec.id])
    return set(found)


async def unregister(conn: Connection, *, holder_id: int, actor: str) -> int:
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
    conn: Connection, *, insurer_number: str, limit: int, offset: int
) -> list[dict[str, object]]:
    """The insurer's open review items as the contract shows them (never the holder's id)."""
    rows = await repo.open_reviews(conn, insurer_number=insurer_number, limit=limit, offset=offset)
    return [
        {"record_id": r["record_id"], "reason": r["reason"], "fields": disclosed(r["fields"]),
         "created_at": r["created_at"]}
        for r in rows
    ]
