"""HTTP routes of the authority (certificate operator)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from service.accounts.auth import OperatorAuth
from service.authority import service
from service.authority.deps import AuthorityDep
from service.authority.schemas import CertificateOut, HolderIn, HolderOut, RenewalIn, RenewalOut, StatusChangeIn
from service.core.deps import DB
from service.core.openapi import error_responses

router = APIRouter(prefix="/v1/authority", tags=["authority"])


@router.post("/holders", status_code=201, responses=error_responses(401, 403, 409, 422))
async def register_holder(body: HolderIn, operator: OperatorAuth, conn: DB, authority: AuthorityDep) -> HolderOut:
    """Record the identity attributes of the holder of an issued certificate."""
    registered = await service.register_holder(
        conn, authority=authority, certificate_der=body.certificate_der(), identity=body, actor=operator.actor
    )
    return HolderOut(serial=registered.serial, not_after=registered.not_after, status="active")


@router.post(
    "/certificates/{serial}/{action}", responses=error_responses(401, 403, 404, 409, 422),
    summary="Suspend, release or revoke a certificate",
)
async def change_status(
    serial: str, action: Literal["suspend", "release", "revoke"], body: StatusChangeIn,
    operator: OperatorAuth, conn: DB,
) -> CertificateOut:
    """Suspend (lost card), release from suspension, or revoke a certificate."""
    row = await service.change_status(conn, serial=serial, action=action, reason=body.reason, actor=operator.actor)
    return CertificateOut(
        serial=row.serial, status=row.status,
        status_reason=row.status_reason, replaced_by=row.replaced_by,
    )


@router.post("/renewals", status_code=201, responses=error_responses(401, 403, 404, 409, 422))
async def renew(body: RenewalIn, operator: OperatorAuth, conn: DB, authority: AuthorityDep) -> RenewalOut:
    """Register the renewed certificate of the same holder (new serial; old -> new recorded)."""
    serial = await service.renew(
        conn, authority=authority, old_serial=body.old_serial, certificate_der=body.certificate_der(),
        actor=operator.actor,
    )
    return RenewalOut(old_serial=body.old_serial, serial=serial)
