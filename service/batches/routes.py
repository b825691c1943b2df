"""HTTP routes of insurer batch upload: receive (202) and status."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.accounts.auth import InsurerAuth, require_own_insurer
from service.batches import service
from service.batches.schemas import UPLOAD_BODY, BatchAccepted, BatchStatus, ErrorsLimit, ErrorsOffset
from service.core import ratelimit
from service.core.database import DB, Connection
from service.core.deps import SettingsDep
from service.core.openapi import error_responses
from service.core.ratelimit import Rate
from service.core.redis import get_redis

router = APIRouter(prefix="/v1/insurers", tags=["insurer"])


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def receive_upload(request: Request, conn: DB, settings: SettingsDep, upload: service.Upload) -> JSONResponse:
    """Store the streamed body as a batch and answer 202 with its status URL (any batch kind).

    Uploads are rate limited per uploader (429 with Retry-After) before the body is read.
    """
    limit = [(f"upload:{upload.owner}", Rate.parse(settings.rate_limit_uploads))]
    (await ratelimit.check(get_redis(request), limit)).raise_if_refused("too many uploads")
    received = await service.receive(
        conn, upload=upload, body=request.stream(), max_bytes=settings.max_batch_bytes,
        chunk_bytes=settings.batch_chunk_bytes,
    )
    if received.created and (worker := getattr(request.app.state, "batch_worker", None)) is not None:
        worker.wake()
    status_url = str(request.url.path).rstrip("/") + f"/{received.batch_id}"
    body = BatchAccepted(batch_id=str(received.batch_id), status_url=status_url)
    return JSONResponse(body.model_dump(), status_code=202)


def upload_from_request(request: Request, *, kind: str, owner: str, insurer_number: str | None) -> service.Upload:
    """Where an upload comes from and how its body is written, read from the request headers."""
    return service.Upload(
        kind=kind, owner=owner, insurer_number=insurer_number,
        idempotency_key=request.headers.get("idempotency-key"), content_type=request.headers.get("content-type"),
        content_length=_content_length(request),
    )


@router.post(
    "/{insurer_number}/eligibility-batches", status_code=202, response_model=BatchAccepted,
    responses=error_responses(401, 403, 404, 409, 413, 415, 422, 429), openapi_extra=UPLOAD_BODY,
)
async def upload_eligibility(
    insurer_number: str, request: Request, insurer: InsurerAuth, conn: DB, settings: SettingsDep
) -> JSONResponse:
    """Upload eligibility records (CSV or NDJSON); processed asynchronously, row by row."""
    require_own_insurer(insurer, insurer_number)
    upload = upload_from_request(
        request, kind="eligibility", owner=f"insurer:{insurer_number}", insurer_number=insurer_number
    )
    return await receive_upload(request, conn, settings, upload)


@router.get("/{insurer_number}/eligibility-batches/{batch_id}", responses=error_responses(401, 403, 404, 422))
async def eligibility_batch_status(
    insurer_number: str, batch_id: UUID, insurer: InsurerAuth, conn: DB,
    errors_offset: ErrorsOffset = 0, errors_limit: ErrorsLimit = 1000,
) -> BatchStatus:
    """Status, counts and row errors (a page of them) of a batch."""
    require_own_insurer(insurer, insurer_number)
    return await batch_status(conn, batch_id=batch_id, owner=f"insurer:{insurer_number}",
                              errors_offset=errors_offset, errors_limit=errors_limit)


async def batch_status(
    conn: Connection, *, batch_id: UUID, owner: str, errors_offset: int, errors_limit: int
) -> BatchStatus:
    """The status body of any batch kind."""
    batch, errors = await service.status(
        conn, batch_id=batch_id, owner=owner, errors_offset=errors_offset, errors_limit=errors_limit
    )
    return BatchStatus(
        batch_id=str(batch.id), kind=batch.kind, status="queued" if batch.status == "receiving" else batch.status,
        rows_total=batch.rows_total, rows_processed=batch.rows_processed, rows_accepted=batch.rows_accepted,
        rows_rejected=batch.rows_rejected, linked=batch.linked, needs_review=batch.needs_review,
        ambiguous=batch.ambiguous, failure=batch.failure, created_at=batch.created_at,
        started_at=batch.started_at,
        finished_at=batch.finished_at,
        errors=errors,
        errors_offset=errors_offset, errors_returned=len(errors),
    )
