"""What a terminal's request needs, resolved once: the terminal that asks, and the service's pools, challenge store
and authority. One dependency instead of four: FastAPI spends about as much resolving a dependency as it does on a
small request, and the challenge and the check are the hot path (docs/scaling.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from service.accounts.auth import authenticate_terminal, authenticates
from service.authority.ca import CertificateAuthority
from service.core.database import Reads
from service.core.security import TerminalPrincipal
from service.verification.challenges import ChallengeStore


@dataclass(frozen=True, slots=True)
class Reception:
    """An authenticated terminal and what its requests use."""

    terminal: TerminalPrincipal
    pool: asyncpg.Pool
    challenges: ChallengeStore
    authority: CertificateAuthority
    reads: Reads


@authenticates
async def reception(request: Request) -> Reception:
    """The calling terminal (401/403 otherwise) with the app's pool, challenges and authority."""
    terminal = await authenticate_terminal(request)
    state = request.app.state
    return Reception(terminal=terminal, pool=state.pool, challenges=state.challenges, authority=state.authority,
                     reads=state.reads)


ReceptionDep = Annotated[Reception, Depends(reception)]
