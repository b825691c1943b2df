"""HTTP routes of checkup batches (insurers) and medication batches (claims processors): receive (202), status."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.accounts.auth import ClaimsAuth, InsurerAuth, require_own_insurer
from service.batches.errors import BatchNotFound
from service.batches.routes import batch_status, receive_upload, upload_from_request
from service.batches.schemas import UPLOAD_BODY, BatchAccepted, BatchStatus, ErrorsLimit, ErrorsOffset
from service.core.database import DB, Connection
from service.core.deps import SettingsDep
from service.core.openapi import error_responses
from service.core.security import Principal
from service.records.service import CLAIMS_OWNER_PREFIX

router = APIRouter(prefix="/v1")


def _claims_owner(principal: Principal) -> str:
    return f"{CLAIMS_OWNER_PREFIX}{principal.claims_processor_id}"


async def _status_of_kind(
    conn: Connection, *, kind: str, batch_id: UUID, owner: str, errors_offset: int, errors_limit: int
) -> BatchStatus:
    """A batch's status; 404 when the caller's batch with this id is of another kind."""
    status = await batch_status(
        conn, batch_id=batch_id, owner=owner, errors_offset=errors_offset, errors_limit=errors_limit
    )
    if status.kind != kind:
        raise BatchNotFound(f"no {kind} batch {batch_id}")
    return status


@router.post(
    "/insurers/{insurer_number}/checkup-batches", tags=["insurer"], status_code=202, response_model=BatchAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 415, 422, 429), openapi_extra=UPLOAD_BODY,
)
async def upload_checkups(
    insurer_number: str, request: Request, insurer: InsurerAuth, conn: DB, settings: SettingsDep
) -> JSONResponse:
    """Upload checkup results (特定健診) of the insurer's insured (CSV or NDJSON); processed asynchronously."""
    require_own_insurer(insurer, insurer_number)
    upload = upload_from_request(
        request, kind="checkup", owner=f"insurer:{insurer_number}", insurer_number=insurer_number
    )
    return await receive_upload(request, conn, settings, upload)


@router.get(
    "/insurers/{insurer_number}/checkup-batches/{batch_id}", tags=["insurer"],
    responses=error_responses(401, 403, 404, 422),
)
async def checkup_batch_status(
    insurer_number: str, batch_id: UUID, insurer: InsurerAuth, conn: DB,
    errors_offset: ErrorsOffset = 0, errors_limit: ErrorsLimit = 1000,
) -> BatchStatus:
    """Status, counts and row errors (a page of them) of a checkup batch."""
    require_own_insurer(insurer, insurer_number)
    return await _status_of_kind(conn, kind="checkup", batch_id=batch_id, owner=f"insurer:{insurer_number}",
                                 errors_offset=errors_offset, errors_limit=errors_limit)


@router.post(
    "/claims/medication-batches", tags=["claims"], status_code=202, response_model=BatchAccepted,
    responses=error_responses(401, 403, 409, 413, 415, 422, 429), openapi_extra=UPLOAD_BODY,
)
async def upload_medications(request: Request, claims: ClaimsAuth, conn: DB, settings: SettingsDep) -> JSONResponse:
    """Upload dispensed-medication records (薬剤情報, CSV or NDJSON); processed asynchronously."""
    upload = upload_from_request(request, kind="medication", owner=_claims_owner(claims), insurer_number=None)
    return await receive_upload(request, conn, settings, upload)


@router.get("/claims/medication-batches/{batch_id}", tags=["claims"], responses=error_responses(401, 403, 404, 422))
async def medication_batch_status(
    batch_id: UUID, claims: ClaimsAuth, conn: DB,
    errors_offset: ErrorsOffset = 0, errors_limit: ErrorsLimit = 1000,
) -> BatchStatus:
    """Status, counts and row errors (a page of them) of a medication batch."""
    return await _status_of_kind(conn, kind="medication", batch_id=batch_id, owner=_claims_owner(claims),
                                 errors_offset=errors_offset, errors_limit=errors_limit)
