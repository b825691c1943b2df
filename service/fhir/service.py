"""The rules of the FHIR views: the JSON API's authorization, then the mapping to resources.

- A verification (CoverageEligibilityResponse, Coverage): the terminal that made it, or staff of its facility
  (any role: eligibility is reception's business). Anyone else: 404.
- Consents, medication and checkups: doctors, dentists and pharmacists of the consent's facility, through
  `service.viewer.service` (same checks, same access log). Another facility 404, reception 403, an ended
  consent 410, a category not consented 403.
- The holder's access log (AuditEvent): the holder's own card proof at a terminal, as `POST /v1/me/access-log`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from service.authority.ca import CertificateAuthority
from service.consent import repository as consents
from service.consent.errors import ConsentNotFound
from service.consent.service import require_live
from service.core.database import Connection, Reads
from service.core.security import TerminalPrincipal
from service.core.settings import Settings
from service.fhir import mapping
from service.fhir import repository as repo
from service.fhir.errors import NoCoverage, ResourceNotFound
from service.records.duplicates import duplicate_pairs
from service.verification import service as verification
from service.verification.challenges import ChallengeStore
from service.verification.schemas import CardProof
from service.viewer import service as viewer
from service.viewer.sessions import StaffSession

Caller = StaffSession | TerminalPrincipal


def _may_read_verification(caller: Caller, row: asyncpg.Record) -> bool:
    if isinstance(caller, StaffSession):
        return bool(caller.facility_code == row["facility_code"])
    return bool(caller.terminal_id == row["terminal_id"])


async def verification_view(
    conn: Connection, *, caller: Caller, verification_id: UUID
) -> mapping.VerificationView:
    """A verification this caller may read (404 otherwise)."""
    row = await repo.verification(conn, verification_id)
    if row is None or not _may_read_verification(caller, row):
        raise ResourceNotFound(f"no verification {verification_id} for this caller")
    record = dict(row.items()) if row["record_version_id"] is not None else None
    return mapping.VerificationView(
        verification_id=row["verification_id"], serial=row["serial"], result=row["result"],
        validity_code=row["validity_code"], viewing_allowed=row["viewing_allowed"], as_of=row["as_of"],
        created_at=row["created_at"], coverage=record, insurer_name=row["insurer_name"],
    )


async def coverage_of(conn: Connection, *, caller: Caller, verification_id: UUID) -> mapping.VerificationView:
    """A verification that found a record (404 `no_coverage` when it found none)."""
    view = await verification_view(conn, caller=caller, verification_id=verification_id)
    if view.coverage is None:
        raise NoCoverage(f"verification {verification_id} found no eligibility record")
    return view


def _consent_view(staff: StaffSession, found: dict[str, Any]) -> mapping.ConsentView:
    return mapping.ConsentView(
        consent_id=found["consent_id"], categories=found["categories"],
        given_at=found["given_at"], expires_at=found["expires_at"],
        facility_code=staff.facility_code, facility_name=staff.facility_name,
    )


def _consent_entries(staff: StaffSession, found: dict[str, Any]) -> list[mapping.Entry]:
    consent = mapping.consent(_consent_view(staff, found), subject=mapping.subject_of(found["consent_id"]))
    return [mapping.Entry(consent), mapping.included_patient(found["consent_id"], found)]


async def live_consents(conn: Connection, *, staff: StaffSession) -> list[mapping.Entry]:
    """The facility's live consents (as GET /v1/viewer/consents), each with its Patient."""
    return [entry for found in await viewer.consented_patients(conn, staff=staff)
            for entry in _consent_entries(staff, found)]


async def one_consent(conn: Connection, *, staff: StaffSession, consent_id: UUID) -> list[mapping.Entry]:
    """A consent of this facility: 404 another facility's, 403 for reception, 410 when it ended."""
    row = await consents.get(conn, consent_id)
    if row is None or row.facility_code != staff.facility_code:
        raise ConsentNotFound(f"no consent {consent_id} at this facility")
    found = await viewer.consented_patients(conn, staff=staff, consent_id=consent_id)
    require_live(row)
    if found:
        return _consent_entries(staff, found[0])
    refusal = mapping.ConsentView(consent_id=str(row.id), categories=(), given_at=row.given_at,
                                  expires_at=row.expires_at, facility_code=staff.facility_code,
                                  facility_name=staff.facility_name)
    return [mapping.Entry(mapping.consent(refusal, subject=None))]


async def _records(
    conn: Connection, *, reads: Reads, staff: StaffSession, consent_id: UUID, category: str,
    settings: Settings,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The records of a category through the viewer's checks (and access log), with the patient they are of."""
    found = await viewer.view(conn, reads=reads, staff=staff, consent_id=consent_id, category=category,
                              pharmacy_checkups=settings.checkup_at_pharmacies)
    person = (await viewer.consented_patients(conn, staff=staff, consent_id=consent_id))[0]
    return found.records, person


async def medication_dispenses(
    conn: Connection, *, reads: Reads, staff: StaffSession, consent_id: UUID, settings: Settings
) -> list[mapping.Entry]:
    """Dispensings of the past 3 years, duplicate medication as DetectedIssue, and the Patient."""
    records, person = await _records(conn, reads=reads, staff=staff, consent_id=consent_id,
                                     category="medication", settings=settings)
    subject = mapping.subject_of(consent_id)
    entries = [mapping.Entry(mapping.medication_dispense(r, subject=subject)) for r in records]
    entries += [mapping.Entry(mapping.duplicate_issue(pair, records, subject=subject), mode="include")
                for pair in duplicate_pairs(records)]
    return [*entries, mapping.included_patient(consent_id, person)]


async def checkup_observations(
    conn: Connection, *, reads: Reads, staff: StaffSession, consent_id: UUID, settings: Settings
) -> list[mapping.Entry]:
    """Checkup values of the past 5 years with their 特定健診 reference values and flags, and the Patient."""
    records, person = await _records(conn, reads=reads, staff=staff, consent_id=consent_id,
                                     category="checkup", settings=settings)
    subject = mapping.subject_of(consent_id)
    entries = [mapping.Entry(o) for r in records for o in mapping.observations(r, subject=subject,
                                                                                sex=person.get("sex"))]
    return [*entries, mapping.included_patient(consent_id, person)]


async def access_events(
    conn: Connection, challenges: ChallengeStore, *, reads: Reads, authority: CertificateAuthority,
    terminal: TerminalPrincipal, proof: CardProof,
) -> Sequence[mapping.Entry]:
    """The holder's access log (their own card proof, as POST /v1/me/access-log) as AuditEvents."""
    log = await verification.access_log(conn, challenges, reads=reads, authority=authority, terminal=terminal,
                                        proof=proof)
    return [mapping.Entry(mapping.audit_event(entry.model_dump())) for entry in log.entries]
