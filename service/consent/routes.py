"""HTTP routes of consent (terminal side)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from service.accounts.auth import TerminalAuth
from service.authority.deps import AuthorityDep
from service.consent import service
from service.consent.schemas import ConsentIn, ConsentOut, WithdrawIn
from service.core.deps import DB
from service.core.openapi import error_responses
from service.verification.challenges import ChallengesDep

router = APIRouter(prefix="/v1/consents", tags=["terminal"])


@router.post("", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
async def give(body: ConsentIn, terminal: TerminalAuth, conn: DB) -> ConsentOut:
    """The patient's consent per category, for the check this terminal just made (empty list = refusal)."""
    return await service.give(conn, terminal=terminal, verification_id=body.verification_id,
                              categories=list(body.categories))


@router.post("/{consent_id}/withdraw", responses=error_responses(401, 403, 404, 409, 422))
async def withdraw(
    consent_id: UUID, body: WithdrawIn, terminal: TerminalAuth, conn: DB, challenges: ChallengesDep,
    authority: AuthorityDep,
) -> ConsentOut:
    """Withdraw a consent: the holder's card signs a challenge of purpose withdraw_consent."""
    return await service.withdraw(conn, challenges, authority=authority, terminal=terminal, consent_id=consent_id,
                                  proof=body)
