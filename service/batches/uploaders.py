"""Who uploads batches: an insurer under its own number, or a claims processor (FastAPI dependencies)."""

from __future__ import annotations

from service.accounts.auth import ClaimsAuth, InsurerAuth, require_own_insurer
from service.batches.routes import Uploader

CLAIMS_OWNER_PREFIX = "claims:"


async def insurer_uploader(insurer_number: str, insurer: InsurerAuth) -> Uploader:
    """An insurer uploads under its own number only (403 for another insurer's URL)."""
    require_own_insurer(insurer, insurer_number)
    return Uploader(owner=f"insurer:{insurer_number}", insurer_number=insurer_number)


async def claims_uploader(claims: ClaimsAuth) -> Uploader:
    """A claims processor owns the batches it uploads ("claims:<id>"); their rows name their insurers."""
    return Uploader(owner=f"{CLAIMS_OWNER_PREFIX}{claims.claims_processor_id}", insurer_number=None)
