"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.core.database import get_pool
from service.core.metrics import registry
from service.core.redis import get_redis

router = APIRouter(tags=["operations"])


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
async def metrics() -> Response:
    """Prometheus exposition."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
