"""The rules of the viewer: staff login, the facility's consented patients, and consent-gated records.

Every view is checked (facility, role, access policy, live consent, consented category) and then logged in
the holder's access log and the audit trail, in the same transaction as the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from service.audit import service as audit
from service.consent import policy
from service.consent import repository as consents
from service.consent.errors import ConsentNotFound
from service.consent.service import require_live
from service.core import ratelimit
from service.core.clock import clock
from service.core.database import Connection, Reads
from service.core.rates import Rate
from service.core.redis import RedisClient
from service.core.security import PasswordChecker
from service.records.service import InsuredNumber, checkups_for, medications_for
from service.viewer import repository as repo
from service.viewer import sessions
from service.viewer.errors import BadCredentials, CardNotUsable, CategoryNotConsented, RoleCannotView


@dataclass(frozen=True, slots=True)
class LoginGuard:
    """What stands between a login attempt and the password check: rate limits and the scrypt threads."""

    per_login: Rate
    per_address: Rate
    passwords: PasswordChecker


async def login(
    conn: Connection, redis: RedisClient, *, login: str, password: str, client_address: str, guard: LoginGuard
) -> tuple[str, sessions.StaffSession]:
    """Check the password and open a session; returns (cookie value, session).

    Wrong passwords count per login and per client address; past either limit the login is refused (429,
    Retry-After) before any hashing, even with the right password. A login that does not exist costs the same
    work and counts the same as one that does, so neither the answer nor its time tells them apart.
    """
    # one hash tag for both keys: a Redis Cluster runs the limit script on the node of their common slot
    limits = [(f"{{login}}:login:{ratelimit.subject(login)}", guard.per_login),
              (f"{{login}}:address:{ratelimit.subject(client_address)}", guard.per_address)]
    (await ratelimit.check(redis, limits, peek=True)).raise_if_refused("too many wrong passwords")
    row = await repo.staff_by_login(conn, login)
    if not await guard.passwords.check(password, row["password_hash"] if row is not None else None):
        await ratelimit.check(redis, limits)
        raise BadCredentials("unknown login or wrong password")
    assert row is not None
    await ratelimit.reset(redis, limits[0][0])
    token, session = await sessions.create(
        redis,
        staff_id=row["staff_id"],
        login=row["login"],
        facility_code=row["facility_code"],
        facility_type=row["facility_type"],
        facility_name=row["facility_name"],
        role=row["role"],
    )
    await audit.record(conn, action="staff_login", actor=session.actor, subject={"facility": session.facility_code})
    return token, session


def _require_viewer(staff: sessions.StaffSession) -> None:
    if staff.role not in policy.VIEWER_ROLES:
        raise RoleCannotView("reception staff see eligibility only, not medication or checkup history")
    if not policy.may_view_anything(facility_type=staff.facility_type, role=staff.role, pharmacy_checkups=True):
        raise RoleCannotView(f"the access policy lets a {staff.role} at a {staff.facility_type} view nothing")


_BLOCKING_STATUSES = ("suspended", "revoked")


async def _usable_cards(conn: Connection, consent_ids: list[UUID]) -> dict[UUID, str]:
    """consent id -> card status; suspension and revocation are honoured on every read (DOMAIN.md)."""
    return await repo.card_statuses(conn, consent_ids) if consent_ids else {}


async def consented_patients(
    conn: Connection, *, staff: sessions.StaffSession, consent_id: UUID | None = None
) -> list[dict[str, Any]]:
    """Patients with a live consent at the staff member's facility (or the one of `consent_id`)."""
    _require_viewer(staff)
    rows = await repo.live_consents(conn, facility_code=staff.facility_code, now=clock.now(), consent_id=consent_id)
    statuses = await _usable_cards(conn, [r["id"] for r in rows])
    rows = [r for r in rows if statuses.get(r["id"]) not in _BLOCKING_STATUSES]
    return [
        {
            "consent_id": str(r["id"]),
            "name_kanji": r["name_kanji"],
            "name_kana": r["name_kana"],
            "birthdate": r["birthdate"],
            "sex": r["sex"],
            "categories": list(r["categories"]),
            "given_at": r["given_at"],
            "expires_at": r["expires_at"],
        }
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Records:
    """One category of a consented patient's history."""

    consent: consents.ConsentRow
    category: str
    since: date
    records: list[dict[str, Any]]


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


async def view(
    conn: Connection,
    *,
    reads: Reads,
    staff: sessions.StaffSession,
    consent_id: UUID,
    category: str,
    pharmacy_checkups: bool,
) -> Records:
    """A consented patient's medication (3 years) or checkup (5 years) history; the view is logged.

    The consent, the card's state and the log are read and written on the primary (`conn`); the history itself
    may come from a replica (`reads`)."""
    consent = await consents.get(conn, consent_id)
    if consent is None or consent.facility_code != staff.facility_code:
        raise ConsentNotFound(f"no consent {consent_id} at this facility")
    _require_viewer(staff)
    if not policy.allowed(
        category=category, facility_type=staff.facility_type, role=staff.role, pharmacy_checkups=pharmacy_checkups
    ):
        raise RoleCannotView(
            f"the access policy does not let a {staff.role} at a {staff.facility_type} view {category} records"
        )
    require_live(consent)
    status = (await _usable_cards(conn, [consent.id])).get(consent.id)
    if status in _BLOCKING_STATUSES:
        raise CardNotUsable(f"the patient's card is {status}: nothing can be viewed with this consent")
    if category not in consent.categories:
        raise CategoryNotConsented(f"the patient did not consent to {category}")
    since = years_before(clock.today_jst(), policy.RETENTION_YEARS[category])
    insured = [InsuredNumber(**dict(r.items())) for r in await repo.insured_numbers(conn, consent.holder_id)]
    reader = medications_for if category == "medication" else checkups_for
    records = []
    if insured:  # history changes only with batches: a replica's few seconds of lag are harmless here
        async with reads.connection(conn) as history:
            records = await reader(history, insured=insured, since=since)
    now = clock.now()
    await repo.log_access(
        conn,
        holder_id=consent.holder_id,
        consent_id=consent.id,
        staff_id=staff.staff_id,
        facility_code=staff.facility_code,
        role=staff.role,
        category=category,
        at=now,
    )
    await audit.record(
        conn,
        action="view",
        actor=staff.actor,
        subject={
            "consent_id": str(consent.id),
            "category": category,
            "records": len(records),
        },
    )
    return Records(consent=consent, category=category, since=since, records=records)
