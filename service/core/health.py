"""Operational endpoints: liveness, readiness and Prometheus metrics.

Counts that live in the database are read just before a scrape by the readers the app names in
`app.state.before_scrape` (service.app), so that core knows no domain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.core import metrics as onshi_metrics
from service.core.deps import get_pool
from service.core.logging import get_logger
from service.core.redis import get_redis

ScrapeReader = Callable[[asyncpg.Pool], Awaitable[None]]  # reads counts kept in the database into a metric
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
    readers: tuple[ScrapeReader, ...] = getattr(request.app.state, "before_scrape", ())
    for read in readers:
        try:
            async with asyncio.timeout(1):
                await read(get_pool(request))
        except Exception as exc:  # an outage must not cost the process metrics: the last reading stays
            log.warning("metrics: counts not read", reader=read.__qualname__, error=type(exc).__name__)
    return Response(generate_latest(onshi_metrics.registry), media_type=CONTENT_TYPE_LATEST)
