"""The rules of the portal: the card signs in (valid: everything; expired: the access log only; suspended or
revoked: nothing), then the holder reads their own data and may withdraw a consent.

A holder reading their own records is not a "view" of the access log (that log says which facility's staff saw
the data); every portal action is in the audit trail, under the certificate's serial.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal
from uuid import UUID

from fastapi.encoders import jsonable_encoder

from service.audit import service as audit
from service.authority.ca import CertificateAuthority, load_certificate, verify_card_signature, verify_issued_by
from service.consent import policy
from service.consent import repository as consent_repo
from service.consent.errors import ConsentNotFound
from service.core import ratelimit
from service.core.clock import clock
from service.core.database import Connection, Reads
from service.core.redis import RedisClient
from service.portal import repository as repo
from service.portal import sessions
from service.portal.errors import AccessLogOnly
from service.portal.schemas import ConsentItem, ConsentsOut, CoverageItem, EligibilityOut, RecordsOut, SessionOut
from service.records.service import InsuredNumber, checkups_for, medications_for
from service.verification import repository as verification_repo
from service.verification.challenges import Challenge, ChallengeStore
from service.verification.eligibility import evaluate
from service.verification.errors import CertificateNotUsable, UnknownCertificate
from service.verification.schemas import AccessLogEntry, AccessLogOut, CardProof
from service.verification.service import certificate_status
from service.viewer import repository as viewer_repo
from service.viewer.service import years_before

PURPOSE = "portal"
_ACCESS_OF_STATUS: dict[str, sessions.Access] = {
    "valid": "full", "expired_grace": "access_log_only", "expired": "access_log_only",
}


def _challenge_owner(client_address: str) -> str:
    """Portal challenges are bound to the asking address (no terminal here), and rate limited per address."""
    return f"portal-{ratelimit.subject(client_address)}"


async def issue_challenge(challenges: ChallengeStore, *, client_address: str) -> Challenge:
    """A nonce for the card to sign in with (purpose portal)."""
    return await challenges.issue(terminal_id=_challenge_owner(client_address), purpose=PURPOSE)


async def sign_in(
    conn: Connection, redis: RedisClient, challenges: ChallengeStore, *, authority: CertificateAuthority,
    proof: CardProof, client_address: str,
) -> SessionOut:
    """Open a short session for the card that signed the challenge; suspended or revoked cards are refused."""
    nonce = await challenges.consume(challenge_id=proof.challenge_id, terminal_id=_challenge_owner(client_address),
                                     purpose=PURPOSE)
    certificate = load_certificate(proof.certificate_der())
    verify_issued_by(certificate, authority.certificate)
    verify_card_signature(certificate, nonce, proof.signature_bytes())
    state = await verification_repo.card_state(conn, str(certificate.serial_number))
    if state is None:
        raise UnknownCertificate("the authority has no record of this certificate")
    status = certificate_status(state, clock.now())
    if status not in _ACCESS_OF_STATUS:
        raise CertificateNotUsable(f"cannot sign in with a certificate that is {status}")
    session = sessions.HolderSession(holder_id=state.holder_id, serial=state.serial, access=_ACCESS_OF_STATUS[status])
    token = await sessions.create(redis, session)
    await audit.record(conn, action="portal_sign_in", actor=session.actor, subject={"access": session.access})
    expires_at = clock.now() + timedelta(seconds=sessions.SESSION_SECONDS)
    return SessionOut(session_token=token, expires_at=expires_at.isoformat(), access=session.access)


def _require_full(holder: sessions.HolderSession) -> None:
    if holder.access != "full":
        raise AccessLogOnly("an expired certificate reads the access log only: renew it at the municipal office")


async def eligibility(conn: Connection, *, holder: sessions.HolderSession) -> EligibilityOut:
    """Eligibility today, as a check would answer it, and every linked record."""
    _require_full(holder)
    today = clock.today_jst()
    state = await verification_repo.card_state(conn, holder.serial)
    answer = evaluate(await verification_repo.linked_coverages(conn, holder.holder_id), as_of=today,
                      ambiguous=bool(state and state.ambiguous))
    history = [CoverageItem(**jsonable_encoder(dict(r.items())))
               for r in await repo.eligibility_history(conn, holder.holder_id)]
    current = answer.coverage
    match = next((h for h in history if current and (h.insurer_number, h.symbol, h.number, h.branch) ==
                  (current.insurer_number, current.symbol, current.number, current.branch)), None)
    return EligibilityOut(as_of=today.isoformat(), validity_code=answer.validity_code,
                          current=match if answer.eligible else None, history=history)


async def records(
    conn: Connection, *, reads: Reads, holder: sessions.HolderSession,
    category: Literal["medication", "checkup"],
) -> RecordsOut:
    """The holder's own medication (3 years) or checkups (5 years), as a doctor would see them."""
    _require_full(holder)
    since: date = years_before(clock.today_jst(), policy.RETENTION_YEARS[category])
    insured = [InsuredNumber(**dict(r.items())) for r in await viewer_repo.insured_numbers(conn, holder.holder_id)]
    reader = medications_for if category == "medication" else checkups_for
    async with reads.connection(conn) as history:
        found = await reader(history, insured=insured, since=since)
    await audit.record(conn, action="portal_read", actor=holder.actor, subject={"category": category})
    return RecordsOut(since=since.isoformat(), records=jsonable_encoder(found))


def _consent_state(withdrawn: bool, expired: bool) -> Literal["active", "expired", "withdrawn"]:
    return "withdrawn" if withdrawn else "expired" if expired else "active"


async def consents(conn: Connection, *, holder: sessions.HolderSession) -> ConsentsOut:
    """The holder's consents (active, expired, withdrawn), newest first."""
    _require_full(holder)
    now = clock.now()
    return ConsentsOut(consents=[
        ConsentItem(
            consent_id=str(r["id"]), facility_code=r["facility_code"], facility_name=r["facility_name"],
            categories=list(r["categories"]), given_at=r["given_at"].isoformat(),
            expires_at=r["expires_at"].isoformat(),
            withdrawn_at=r["withdrawn_at"].isoformat() if r["withdrawn_at"] else None,
            state=_consent_state(r["withdrawn_at"] is not None, r["expires_at"] <= now),
        )
        for r in await repo.consents(conn, holder.holder_id)
    ])


async def withdraw(conn: Connection, *, holder: sessions.HolderSession, consent_id: UUID) -> ConsentsOut:
    """Withdraw one of the holder's consents (again: no change); answers the consents as they are now."""
    _require_full(holder)
    consent = await consent_repo.get(conn, consent_id, for_update=True)
    if consent is None or consent.holder_id != holder.holder_id:
        raise ConsentNotFound(f"no consent {consent_id} of this holder")
    if consent.withdrawn_at is None:
        await consent_repo.withdraw(conn, consent_id, clock.now())
        await audit.record(conn, action="consent_withdrawn", actor=holder.actor,
                           subject={"consent_id": str(consent_id), "serial": holder.serial, "via": "portal"})
    return await consents(conn, holder=holder)


async def access_log(conn: Connection, *, reads: Reads, holder: sessions.HolderSession) -> AccessLogOut:
    """Every view of the holder's data, across certificate renewals (as POST /v1/me/access-log)."""
    async with reads.connection(conn) as log:
        rows = await verification_repo.access_log(log, holder.holder_id)
    await audit.record(conn, action="access_log_read", actor=holder.actor,
                       subject={"serial": holder.serial, "entries": len(rows), "via": "portal"})
    return AccessLogOut(entries=[
        AccessLogEntry(at=r["at"].isoformat(), facility_code=r["facility_code"], facility_name=r["facility_name"],
                       role=r["role"], category=r["category"])
        for r in rows
    ])
