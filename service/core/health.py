"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.core import metrics as onshi_metrics
from service.core.database import get_pool
from service.core.logging import get_logger
from service.core.redis import get_redis

router = APIRouter(tags=["operations"])
log = get_logger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database and Redis answer (503 with which one does not)."""
    checks = {"database": "ok", "redis": "ok"}
    try:
        async with asyncio.timeout(2):
            await get_pool(request).fetchval("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the kind is reported, not hidden
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        async with asyncio.timeout(2):
            await get_redis(request).ping()
    except Exception as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", **checks}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus exposition (counts kept in the database are read first; without the database, the last ones)."""
    from service.authority.repository import admin_action_counts

    try:
        async with asyncio.timeout(1):
            onshi_metrics.admin_certificate_actions.update(await admin_action_counts(get_pool(request)))
    except Exception as exc:  # an outage must not cost the process metrics: the last reading stays
        log.warning("metrics: admin action counts not read", error=type(exc).__name__)
    return Response(generate_latest(onshi_metrics.registry), media_type=CONTENT_TYPE_LATEST)
