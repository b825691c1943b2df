"""The rules of the viewer: staff login, the facility's consented patients, and consent-gated records.

Every view is checked (facility, role, access policy, live consent, consented category) and then logged in
the holder's access log and the audit trail, in the same transaction as the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
from redis.asyncio import Redis

from service.audit import service as audit
from service.consent import policy
from service.consent import repository as consents
from service.consent.errors import ConsentNotFound
from service.consent.service import require_live
from service.core.clock import clock
from service.core.security import verify_password
from service.records.service import InsuredNumber, checkups_for, medications_for
from service.viewer import repository as repo
from service.viewer import sessions
from service.viewer.errors import BadCredentials, CategoryNotConsented, RoleCannotView


async def login(
    conn: asyncpg.Connection, redis: Redis, *, login: str, password: str
) -> tuple[str, sessions.StaffSession]:
    """Check the password and open a session; returns (cookie value, session)."""
    row = await repo.staff_by_login(conn, login)
    if row is None or not verify_password(password, row["password_hash"]):
        raise BadCredentials("unknown login or wrong password")
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


async def consented_patients(
    conn: asyncpg.Connection, *, staff: sessions.StaffSession, consent_id: UUID | None = None
) -> list[dict[str, Any]]:
    """Patients with a live consent at the staff member's facility (or the one of `consent_id`)."""
    _require_viewer(staff)
    rows = await repo.live_consents(conn, facility_code=staff.facility_code, now=clock.now(), consent_id=consent_id)
    return [
        {
            "consent_id": str(r["id"]),
            "name_kanji": r["name_kanji"],
            "name_kana": r["name_kana"],
            "birthdate": r["birthdate"].isoformat(),
            "sex": r["sex"],
            "categories": list(r["categories"]),
            "given_at": r["given_at"].isoformat(),
            "expires_at": r["expires_at"].isoformat(),
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
    conn: asyncpg.Connection,
    *,
    staff: sessions.StaffSession,
    consent_id: UUID,
    category: str,
    pharmacy_checkups: bool,
) -> Records:
    """A consented patient's medication (3 years) or checkup (5 years) history; the view is logged."""
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
    if category not in consent.categories:
        raise CategoryNotConsented(f"the patient did not consent to {category}")
    since = years_before(clock.today_jst(), policy.RETENTION_YEARS[category])
    insured = [InsuredNumber(**dict(r.items())) for r in await repo.insured_numbers(conn, consent.holder_id)]
    reader = medications_for if category == "medication" else checkups_for
    records = await reader(conn, insured=insured, since=since) if insured else []
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
