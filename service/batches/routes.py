"""The HTTP routes of any batch kind: receive an upload (202) and report its status, built by `batch_router`.

A domain gives its kind, its URL and a dependency that authenticates the uploader and names the batch owner
(`Uploader`, see batches.uploaders); the pipeline does the rest. Uploads are rate limited per uploader (429 with
Retry-After) before the body is read.

No `from __future__ import annotations` here: the handlers' annotations name a dependency made per router,
which FastAPI must see as an object, not as a string to look up in this module.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope

from service.batches import service
from service.batches.errors import BatchNotFound
from service.batches.schemas import UPLOAD_BODY, BatchAccepted, BatchProgress, BatchStatus, ErrorsLimit, ErrorsOffset
from service.core import ratelimit
from service.core.database import Connection
from service.core.deps import DB, SettingsDep
from service.core.openapi import error_responses
from service.core.rates import Rate
from service.core.redis import get_redis
from service.core.settings import Settings

_COLLECTION_SUFFIX = "-batches"  # what tells a batch upload apart before routing (is_batch_upload)


@dataclass(frozen=True, slots=True)
class Uploader:
    """Who owns the batches of a request ("insurer:<number>", "claims:<id>") and for which insurer, if one."""

    owner: str
    insurer_number: str | None


@dataclass(frozen=True, slots=True)
class BatchRoutes:
    """What a batch kind's two routes are: URL, OpenAPI names, tag and texts, and who may upload."""

    kind: str
    path: str  # the collection, ending in "-batches", e.g. "/v1/insurers/{insurer_number}/eligibility-batches"
    uploader: Callable[..., Awaitable[Uploader]]  # a FastAPI dependency: authenticates, names the owner
    tag: str
    upload_name: str
    upload_doc: str
    status_name: str
    status_doc: str
    upload_errors: tuple[int, ...]


def is_batch_upload(scope: Scope) -> bool:
    """Batch uploads stream their body to the database and have their own limit (ONSHI_MAX_BATCH_BYTES)."""
    return scope.get("method") == "POST" and str(scope.get("path", "")).endswith(_COLLECTION_SUFFIX)


def batch_router(routes: BatchRoutes) -> APIRouter:
    """The upload and status routes of one batch kind."""
    if not routes.path.endswith(_COLLECTION_SUFFIX):
        raise ValueError(f"a batch collection's path ends in {_COLLECTION_SUFFIX!r}: {routes.path}")
    router = APIRouter(tags=[routes.tag])
    caller = Annotated[Uploader, Depends(routes.uploader)]

    async def upload(request: Request, uploader: caller, conn: DB, settings: SettingsDep) -> JSONResponse:
        return await _receive(request, conn, settings, kind=routes.kind, uploader=uploader)

    async def status(
        batch_id: UUID, uploader: caller, conn: DB,
        errors_offset: ErrorsOffset = 0, errors_limit: ErrorsLimit = 1000,
    ) -> BatchStatus:
        return await _status(conn, kind=routes.kind, batch_id=batch_id, owner=uploader.owner,
                             errors_offset=errors_offset, errors_limit=errors_limit)

    router.add_api_route(
        routes.path, upload, methods=["POST"], name=routes.upload_name, description=routes.upload_doc,
        status_code=202, response_model=BatchAccepted, responses=error_responses(*routes.upload_errors),
        openapi_extra=UPLOAD_BODY,
    )
    router.add_api_route(
        routes.path + "/{batch_id}", status, methods=["GET"], name=routes.status_name,
        description=routes.status_doc, responses=error_responses(401, 403, 404, 422),
    )
    return router


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def _receive(
    request: Request, conn: Connection, settings: Settings, *, kind: str, uploader: Uploader
) -> JSONResponse:
    """Store the streamed body as a batch and answer 202 with its status URL."""
    limit = [(f"upload:{uploader.owner}", Rate.parse(settings.rate_limit_uploads))]
    (await ratelimit.check(get_redis(request), limit)).raise_if_refused("too many uploads")
    upload = service.Upload(
        kind=kind, owner=uploader.owner, insurer_number=uploader.insurer_number,
        idempotency_key=request.headers.get("idempotency-key"), content_type=request.headers.get("content-type"),
        content_length=_content_length(request),
    )
    received = await service.receive(
        conn, upload=upload, body=request.stream(), max_bytes=settings.max_batch_bytes,
        chunk_bytes=settings.batch_chunk_bytes,
    )
    if received.created and (worker := getattr(request.app.state, "batch_worker", None)) is not None:
        worker.wake()
    status_url = str(request.url.path).rstrip("/") + f"/{received.batch_id}"
    body = BatchAccepted(batch_id=str(received.batch_id), status_url=status_url)
    return JSONResponse(body.model_dump(), status_code=202)


async def _status(
    conn: Connection, *, kind: str, batch_id: UUID, owner: str, errors_offset: int, errors_limit: int
) -> BatchStatus:
    """A batch's status; 404 when the caller has no batch of this kind with this id."""
    batch, errors = await service.status(
        conn, batch_id=batch_id, owner=owner, errors_offset=errors_offset, errors_limit=errors_limit
    )
    if batch.kind != kind:
        raise BatchNotFound(f"no {kind} batch {batch_id}")
    return BatchStatus(
        batch_id=str(batch.id), kind=batch.kind, status="queued" if batch.status == "receiving" else batch.status,
        **batch.model_dump(include=set(BatchProgress.model_fields)),
        errors=errors, errors_offset=errors_offset, errors_returned=len(errors),
    )
