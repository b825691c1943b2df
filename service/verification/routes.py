"""HTTP routes of the reception terminal."""

from __future__ import annotations

from fastapi import APIRouter

from service.accounts.auth import TerminalAuth
from service.core.database import DB, PoolDep
from service.core.deps import AuthorityDep
from service.core.openapi import error_responses
from service.verification import service
from service.verification.challenges import ChallengesDep
from service.verification.schemas import (
    AccessLogOut,
    CardProof,
    ChallengeIn,
    ChallengeOut,
    RegistrationOut,
    UnlinkOut,
    VerificationIn,
    VerificationOut,
)

router = APIRouter(prefix="/v1", tags=["terminal"])
_PROOF_ERRORS = error_responses(401, 403, 409, 422)


@router.post("/challenges", status_code=201, responses=error_responses(401, 403, 422))
async def create_challenge(body: ChallengeIn, terminal: TerminalAuth, challenges: ChallengesDep) -> ChallengeOut:
    """A single-use nonce for the card to sign, bound to this terminal and purpose."""
    assert terminal.terminal_id is not None
    challenge = await challenges.issue(terminal_id=terminal.terminal_id, purpose=body.purpose)
    return ChallengeOut(challenge_id=challenge.challenge_id, nonce=challenge.nonce_b64,
                        expires_at=challenge.expires_at.isoformat())


@router.post("/verifications", responses=_PROOF_ERRORS)
async def verify(
    body: VerificationIn, terminal: TerminalAuth, pool: PoolDep, challenges: ChallengesDep, authority: AuthorityDep
) -> VerificationOut:
    """Check the card holder's eligibility (資格確認)."""
    return await service.verify(pool, challenges, authority=authority, terminal=terminal, body=body)


@router.post("/registrations", responses=_PROOF_ERRORS)
async def register(
    body: CardProof, terminal: TerminalAuth, conn: DB, challenges: ChallengesDep, authority: AuthorityDep
) -> RegistrationOut:
    """Register the card for insurance use (利用登録) by the holder's own signed request."""
    return await service.register(conn, challenges, authority=authority, terminal=terminal, proof=body)


@router.post("/registrations/unlink", responses=_PROOF_ERRORS)
async def unlink(
    body: CardProof, terminal: TerminalAuth, conn: DB, challenges: ChallengesDep, authority: AuthorityDep
) -> UnlinkOut:
    """Remove the card's insurance use (利用登録解除) by the holder's own signed request."""
    await service.unregister(conn, challenges, authority=authority, terminal=terminal, proof=body)
    return UnlinkOut(status="unlinked")


@router.post("/me/access-log", responses=_PROOF_ERRORS)
async def access_log(
    body: CardProof, terminal: TerminalAuth, conn: DB, challenges: ChallengesDep, authority: AuthorityDep
) -> AccessLogOut:
    """Who viewed the holder's data (the holder's own card proves the request)."""
    return await service.access_log(conn, challenges, authority=authority, terminal=terminal, proof=body)
