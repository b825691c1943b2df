"""The rules of consent: bound to one verification, given once within 5 minutes, valid 24 hours, withdrawable."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from service.audit import service as audit
from service.authority.ca import CertificateAuthority
from service.consent import repository as repo
from service.consent.errors import ConsentGone, ConsentNotAllowed, ConsentNotFound, VerificationNotFound
from service.consent.schemas import ConsentOut, WithdrawIn
from service.core.clock import clock
from service.core.database import Connection
from service.core.security import TerminalPrincipal
from service.verification.challenges import ChallengeStore
from service.verification.service import prove_card

CONSENT_WINDOW = timedelta(minutes=5)
CONSENT_LIFETIME = timedelta(hours=24)


def _out(consent: repo.ConsentRow) -> ConsentOut:
    return ConsentOut(
        consent_id=str(consent.id), categories=consent.categories,
        expires_at=consent.expires_at,
        withdrawn_at=consent.withdrawn_at,
    )


async def give(
    conn: Connection, *, terminal: TerminalPrincipal, verification_id: UUID, categories: list[str]
) -> ConsentOut:
    """The patient's choice at the terminal, right after a successful check."""
    verification = await repo.verification(conn, verification_id)
    if verification is None or verification.facility_code != terminal.facility_code:
        raise VerificationNotFound(f"no verification {verification_id}")
    now = clock.now()
    if verification.terminal_id != terminal.terminal_id:
        raise ConsentNotAllowed("consent is given at the terminal that made the check")
    if now - verification.created_at > CONSENT_WINDOW:
        raise ConsentNotAllowed("more than 5 minutes since the check: check the card again")
    if not verification.viewing_allowed:
        raise ConsentNotAllowed("this check does not allow viewing (not eligible, or an expired certificate)")
    consent_id = await repo.insert_consent(conn, verification=verification, categories=categories, given_at=now,
                                           expires_at=now + CONSENT_LIFETIME)
    if consent_id is None:
        raise ConsentNotAllowed("consent was given for this check already: changing it needs the card again")
    await audit.record(conn, action="consent", actor=terminal.actor, subject={
        "consent_id": str(consent_id), "verification_id": str(verification_id), "categories": categories,
    })
    return ConsentOut(consent_id=str(consent_id), categories=categories,
                      expires_at=now + CONSENT_LIFETIME)


async def withdraw(
    conn: Connection, challenges: ChallengeStore, *, authority: CertificateAuthority, terminal: TerminalPrincipal,
    consent_id: UUID, proof: WithdrawIn,
) -> ConsentOut:
    """The patient withdraws a consent with their card, at a terminal of the same facility."""
    card = await prove_card(conn, challenges, authority=authority, terminal=terminal, proof=proof,
                            purpose="withdraw_consent")
    consent = await repo.get(conn, consent_id, for_update=True)
    if consent is None or consent.facility_code != terminal.facility_code or consent.holder_id != card.state.holder_id:
        raise ConsentNotFound(f"no consent {consent_id} for this card at this facility")
    if consent.withdrawn_at is None:
        await repo.withdraw(conn, consent_id, clock.now())
        await audit.record(conn, action="consent_withdrawn", actor=terminal.actor,
                           subject={"consent_id": str(consent_id), "serial": card.state.serial})
    withdrawn = await repo.get(conn, consent_id)
    assert withdrawn is not None
    return _out(withdrawn)


def require_live(consent: repo.ConsentRow) -> None:
    """410 when a consent was withdrawn or has expired."""
    if consent.withdrawn_at is not None:
        raise ConsentGone("the patient withdrew this consent")
    if clock.now() >= consent.expires_at:
        raise ConsentGone("this consent expired (24 hours): the patient can consent again at reception")
