"""The rules of reception: prove the card, then answer eligibility, register, unlink or show the access log.

Every action is bound to a fresh card signature over a single-use challenge of this terminal: nothing of a
previous request or patient is ever consulted (no ambient session on terminals).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
from cryptography import x509

from service.audit import service as audit
from service.authority.ca import CertificateAuthority, load_certificate, verify_card_signature, verify_issued_by
from service.core import metrics
from service.core.clock import clock
from service.core.database import Connection, Reads, pooled
from service.core.ids import uuid7
from service.core.security import TerminalPrincipal
from service.linking import service as linking
from service.verification import repository as repo
from service.verification.challenges import ChallengeStore
from service.verification.eligibility import Answer, Coverage, evaluate
from service.verification.errors import CertificateNotUsable, PresenceNotEstablished, UnknownCertificate
from service.verification.schemas import (
    AccessLogEntry,
    AccessLogOut,
    CardProof,
    CertificateInfo,
    CoverageOut,
    RegistrationOut,
    VerificationIn,
    VerificationOut,
)

GRACE_MONTHS = 3  # eligibility is still answered for 3 months after the certificate expires (no viewing)
_RESULT_OF_STATUS = {"revoked": "certificate_revoked", "suspended": "certificate_suspended",
                     "expired": "certificate_expired"}


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later (the last day of a shorter month)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def certificate_status(state: repo.CardState, now: datetime) -> str:
    """valid, expired_grace, expired, revoked or suspended, now."""
    if state.status in ("revoked", "suspended"):
        return state.status
    if now <= state.not_after:
        return "valid"
    return "expired_grace" if now <= add_months(state.not_after, GRACE_MONTHS) else "expired"


@dataclass(frozen=True, slots=True)
class ProvenCard:
    """A card that has just signed this terminal's challenge."""

    state: repo.CardState
    status: str

    @property
    def info(self) -> CertificateInfo:
        """The certificate as the answer shows it."""
        return CertificateInfo(serial=self.state.serial, not_after=self.state.not_after,
                               status=self.status)


async def _signed_certificate(
    challenges: ChallengeStore, *, authority: CertificateAuthority, terminal: TerminalPrincipal, proof: CardProof,
    purpose: str,
) -> x509.Certificate:
    """Consume the challenge, check the certificate against the authority and the signature over the nonce."""
    nonce = await challenges.consume(challenge_id=proof.challenge_id, terminal_id=terminal.terminal_id,
                                     purpose=purpose)
    certificate = load_certificate(proof.certificate_der())
    verify_issued_by(certificate, authority.certificate)
    verify_card_signature(certificate, nonce, proof.signature_bytes())
    return certificate


def _known(state: repo.CardState | None) -> repo.CardState:
    if state is None:
        raise UnknownCertificate("the authority has no record of this certificate")
    return state


async def prove_card(
    conn: Connection, challenges: ChallengeStore, *, authority: CertificateAuthority, terminal: TerminalPrincipal,
    proof: CardProof, purpose: str,
) -> ProvenCard:
    """The card that signed this terminal's challenge, with its state now."""
    certificate = await _signed_certificate(challenges, authority=authority, terminal=terminal, proof=proof,
                                            purpose=purpose)
    state = _known(await repo.card_state(conn, str(certificate.serial_number)))
    return ProvenCard(state=state, status=certificate_status(state, clock.now()))


def _check_presence(body: VerificationIn) -> None:
    presence = body.presence
    if presence.method == "face" and (presence.face_distance is None or presence.liveness_passed is not True):
        raise PresenceNotEstablished("a face match needs its distance and a passed liveness check: use PIN or "
                                     "a staff visual check instead")


def _coverage_out(coverage: Coverage | None) -> CoverageOut | None:
    """The contract's `coverage` of a record (its fields by name; the record's version id stays inside)."""
    return None if coverage is None else CoverageOut.model_validate(coverage, from_attributes=True)


def _answer(card: ProvenCard, coverages: list[Coverage], as_of: date) -> tuple[str, Answer | None]:
    if card.status in _RESULT_OF_STATUS:
        return _RESULT_OF_STATUS[card.status], None
    if not card.state.registered:
        return "not_registered", None
    answer = evaluate(coverages, as_of=as_of, ambiguous=card.state.ambiguous)
    return ("eligible" if answer.eligible else "not_eligible"), answer


async def verify(
    pool: asyncpg.Pool, challenges: ChallengeStore, *, authority: CertificateAuthority, terminal: TerminalPrincipal,
    body: VerificationIn,
) -> VerificationOut:
    """A reception check: the eligibility of the card's holder as of a date.

    Two statements, each atomic on its own: read the card and its records, then write the verification together
    with its audit entry. No connection is held while the challenge is consumed (a Redis round trip). The
    authority's signature on the certificate is checked only when the presented certificate is not byte for byte
    the one the authority checked when it recorded this serial (`issued_as_presented`): a card presents the same
    certificate for years, and that check was an eighth of a verification's instructions. The card's signature over
    this challenge is checked every time.
    """
    _check_presence(body)
    nonce = await challenges.consume(challenge_id=body.challenge_id, terminal_id=terminal.terminal_id,
                                     purpose="verify")
    der = body.certificate_der()
    certificate = load_certificate(der)
    as_of = body.as_of or clock.today_jst()
    async with pooled(pool) as conn:
        found = await repo.card_for_check(conn, str(certificate.serial_number), der)
        if found is None or not found.issued_as_presented:
            verify_issued_by(certificate, authority.certificate)  # forged, tampered or unknown: as every route does
        verify_card_signature(certificate, nonce, body.signature_bytes())
        state, coverages = _known(found.state if found else None), found.coverages if found else []
        now = clock.now()
        card = ProvenCard(state=state, status=certificate_status(state, now))
        result, answer = _answer(card, coverages, as_of)
        viewing_allowed = result == "eligible" and card.status == "valid"
        coverage = answer.coverage if answer else None
        verification_id = uuid7(now)
        await repo.insert_verification(conn, repo.NewVerification(
            id=verification_id, terminal_id=terminal.terminal_id, facility_code=terminal.facility_code,
            serial=state.serial, holder_id=state.holder_id, result=result,
            validity_code=answer.validity_code if answer else None,
            record_version_id=coverage.version_id if coverage else None, viewing_allowed=viewing_allowed,
            presence_method=body.presence.method, face_distance=body.presence.face_distance,
            liveness_passed=body.presence.liveness_passed, as_of=as_of,
        ), audit.entry(action="verification", actor=terminal.actor, at=now, subject={
            "verification_id": str(verification_id), "serial": state.serial, "result": result,
            "validity_code": answer.validity_code if answer else None, "presence": body.presence.method,
        }))
    metrics.verifications.labels(result).inc()
    return VerificationOut(
        verification_id=str(verification_id), result=result,
        validity_code=answer.validity_code if answer else None,
        coverage=_coverage_out(coverage), certificate=card.info,
        viewing_allowed=viewing_allowed, as_of=as_of,
    )


def _require(card: ProvenCard, allowed: tuple[str, ...], action: str) -> None:
    if card.status not in allowed:
        raise CertificateNotUsable(f"cannot {action} with a certificate that is {card.status}")


async def register(
    conn: Connection, challenges: ChallengeStore, *, authority: CertificateAuthority, terminal: TerminalPrincipal,
    proof: CardProof,
) -> RegistrationOut:
    """利用登録 by the holder's own signed request, then five-field matching."""
    card = await prove_card(conn, challenges, authority=authority, terminal=terminal, proof=proof,
                            purpose="register")
    _require(card, ("valid",), "register")
    outcome = await linking.register(conn, holder_id=card.state.holder_id, serial=card.state.serial,
                                     actor=f"card:{card.state.serial}")
    coverage = None
    if outcome.status in ("linked", "already_linked"):
        answer = evaluate(await repo.linked_coverages(conn, card.state.holder_id), as_of=clock.today_jst(),
                          ambiguous=False)
        coverage = _coverage_out(answer.coverage)
    await audit.record(conn, action="registration", actor=terminal.actor,
                       subject={"serial": card.state.serial, "status": outcome.status})
    return RegistrationOut(status=outcome.status, coverage=coverage)


async def unregister(
    conn: Connection, challenges: ChallengeStore, *, authority: CertificateAuthority, terminal: TerminalPrincipal,
    proof: CardProof,
) -> None:
    """利用登録解除 by the holder's own signed request: every link ends, with evidence."""
    card = await prove_card(conn, challenges, authority=authority, terminal=terminal, proof=proof,
                            purpose="unregister")
    _require(card, ("valid", "expired_grace"), "unlink")
    ended = await linking.unregister(conn, holder_id=card.state.holder_id, actor=f"card:{card.state.serial}")
    await audit.record(conn, action="unregistration", actor=terminal.actor,
                       subject={"serial": card.state.serial, "links_ended": ended})


async def access_log(
    conn: Connection, challenges: ChallengeStore, *, reads: Reads, authority: CertificateAuthority,
    terminal: TerminalPrincipal, proof: CardProof,
) -> AccessLogOut:
    """Every view of the holder's data (across renewals: the log belongs to the holder, not the serial).

    The log itself may come from a replica: a view made in the last seconds (its lag) may not be listed yet."""
    card = await prove_card(conn, challenges, authority=authority, terminal=terminal, proof=proof,
                            purpose="access_log")
    _require(card, ("valid", "expired_grace", "expired"), "read the access log")
    async with reads.connection(conn) as log:
        rows = await repo.access_log(log, card.state.holder_id)
    await audit.record(conn, action="access_log_read", actor=terminal.actor,
                       subject={"serial": card.state.serial, "entries": len(rows)})
    return AccessLogOut(entries=[
        AccessLogEntry(at=r["at"], facility_code=r["facility_code"], facility_name=r["facility_name"],
                       role=r["role"], category=r["category"])
        for r in rows
    ])
