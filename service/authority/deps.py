"""The certificate authority loaded at start-up, as a FastAPI dependency of the routes that check cards.

The getter is `async def` although it never awaits: FastAPI runs a plain `def` dependency in its thread pool
(see service.core.deps).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.authority.ca import CertificateAuthority


async def get_authority(request: Request) -> CertificateAuthority:
    """The certificate authority loaded at start-up."""
    authority: CertificateAuthority = request.app.state.authority
    return authority


AuthorityDep = Annotated[CertificateAuthority, Depends(get_authority)]
