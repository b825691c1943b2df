"""The application factory: routes, error rendering, and the lifespan that builds pool, Redis and authority."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.accounts.auth import TokenCache
from service.apidocs.openapi import build_openapi
from service.audit.anchors import AnchorTask
from service.authority import service as authority_service
from service.authority.ca import CertificateAuthority
from service.batches.routes import is_batch_upload
from service.batches.sinks import Sinks, sinks_by_kind
from service.core.database import APP_ROLE, Reads, app_role_url, create_pool, same_login
from service.core.embedded import resolve_urls, stop_redis
from service.core.errors import OnshiError
from service.core.inputguard import InputGuardMiddleware
from service.core.lane import DirectLane
from service.core.logging import access, configure_logging, get_logger
from service.core.looplag import LoopLagMonitor
from service.core.middleware import RequestContextMiddleware
from service.core.migrate import apply_migrations
from service.core.openapi import use_error_body_for_validation
from service.core.rates import Rate
from service.core.redis import RedisClient, create_redis
from service.core.resp import RespClient
from service.core.security import PasswordChecker
from service.core.settings import Settings, get_settings
from service.eligibility.service import EligibilitySink
from service.maintenance.service import MaintenanceTask
from service.records.service import CheckupSink, MedicationSink
from service.verification.challenges import ChallengeStore
from service.verification.routes import DIRECT_ROUTES

GIL_SWITCH_SECONDS = 0.001
log = get_logger(__name__)
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
_UNREADABLE_BODY = "the body could not be read: send UTF-8 JSON (or the form the page sends)"


def error_body(code: str, detail: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """The contract's error body."""
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


async def _onshi_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OnshiError)
    return error_body(exc.code, exc.detail, exc.status, exc.headers)


def _describe_validation(errors: list[Any]) -> str:
    parts = []
    for error in errors[:10]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_body("invalid_input", _describe_validation(list(exc.errors())), 422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI could not parse the body (not UTF-8, nested too deeply): invalid input
        return error_body("invalid_input", _UNREADABLE_BODY, 422)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_body(code, str(exc.detail), exc.status_code, dict(exc.headers or {}))


def _lifespan(settings: Settings) -> Any:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database_url, redis_url = resolve_urls(
            database_url=settings.database_url, redis_url=settings.redis_url, data_dir=settings.data_dir
        )
        applied = await asyncio.to_thread(apply_migrations, database_url)
        log.info("migrations applied", count=len(applied))
        app.state.settings = settings
        app.state.authority = CertificateAuthority.load_or_create(
            settings.authority_path, allow_create=settings.may_create_authority, name=settings.authority_name
        )
        # requests run as the least-privilege role; only migrations and partition upkeep run as the owner
        app_url = app_role_url(database_url, settings.app_database_url)
        try:
            pool = await create_pool(app_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                                     command_timeout=settings.db_command_timeout_seconds)
        except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
            raise RuntimeError(
                f"the service answers requests as the database role {APP_ROLE} (migration 0009) and cannot log in "
                f"({exc}): give the role a password and set ONSHI_APP_DATABASE_URL, or allow it in pg_hba.conf"
            ) from exc
        replica = None if not settings.database_replica_url else await create_pool(
            same_login(settings.database_replica_url, app_url), min_size=1, max_size=settings.db_pool_max,
            command_timeout=settings.db_command_timeout_seconds)
        attach(app, settings=settings, pool=pool, replica=replica, redis=create_redis(
            redis_url, cluster=settings.redis_cluster, max_connections=settings.redis_max_connections),
            lean_url=redis_url if redis_url.startswith(("redis://", "unix://")) else None)
        app.state.reads.start()
        maintenance = MaintenanceTask(owner_url=database_url, keep_months=settings.retention_months,
                                      interval=settings.maintenance_interval_seconds)
        await maintenance.start()
        anchoring = AnchorTask(pool=pool, directory=settings.audit_anchor_path, interval=settings.audit_anchor_seconds)
        anchoring.start()
        app.state.anchoring = anchoring
        worker = _start_worker(app, settings)
        lag = LoopLagMonitor()
        lag.start()
        # What start-up made lives as long as the process: out of the collector's way, so that full collections
        # scan only what requests allocate (a shorter pause at every gen-2 collection).
        gc.freeze()
        # The batch worker parses and validates in a thread: every time the event loop wakes it must win the GIL
        # back, waiting up to the switch interval (5 ms by default) while that thread runs. 1 ms keeps requests
        # from queueing behind a batch (a probe's loop lag beside a validating thread: p50 8.1 ms -> 1.3 ms).
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        try:
            yield
        finally:
            await lag.stop()
            await maintenance.stop()
            if worker is not None:
                await worker.stop()
            await anchoring.stop()  # after the last writer: the anchor covers everything appended
            await app.state.reads.stop()
            if app.state.challenges.redis is not app.state.redis:
                await app.state.challenges.redis.aclose()
            await app.state.redis.aclose()
            await app.state.pool.close()
            if replica is not None:
                await replica.close()
            if settings.redis_url is None:  # the embedded one: saved under the data directory, not left running
                await asyncio.to_thread(stop_redis, redis_url, save=True)
            access.flush()

    return lifespan


def attach(app: FastAPI, *, settings: Settings, pool: asyncpg.Pool, redis: RedisClient,
           replica: asyncpg.Pool | None = None, lean_url: str | None = None) -> None:
    """Hand the app its pools and Redis, and what is built on them (the lifespan does this once)."""
    app.state.pool = pool
    app.state.reads = Reads(pool, replica, max_lag=settings.replica_max_lag_seconds)
    app.state.redis = redis
    app.state.token_cache = TokenCache(settings.token_cache_seconds)
    # the hot path's two Redis commands go through the lean client on a single node (redis-py in a cluster)
    lean = redis if settings.redis_cluster or lean_url is None else RespClient(lean_url)
    app.state.challenges = ChallengeStore(lean, ttl_seconds=settings.challenge_ttl_seconds,
                                          limit=Rate.parse(settings.rate_limit_challenges))


def batch_sinks() -> Sinks:
    """The batch kinds the worker serves: each domain's sink, registered here where the app is assembled."""
    return sinks_by_kind(EligibilitySink(), MedicationSink(), CheckupSink())


def _start_worker(app: FastAPI, settings: Settings) -> Any:
    if not settings.run_batch_worker:
        return None
    from service.batches.worker import BatchWorker

    worker = BatchWorker(pool=app.state.pool, settings=settings, sinks=batch_sinks())
    worker.start()
    app.state.batch_worker = worker
    return worker


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Onshi HTTP application."""
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, log_format=settings.effective_log_format,
                      access_log=settings.access_log)
    app = FastAPI(
        title="Onshi", version="0.1.0", lifespan=_lifespan(settings), docs_url=None, redoc_url=None,
        openapi_url=None,  # served by service.apidocs.routes (a labelled route)
        description="Online health-insurance eligibility verification (オンライン資格確認), マイナ保険証 model.",
        # Onshi exports Prometheus metrics, not OpenTelemetry: FastAPI's own telemetry would only cost each request
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.passwords = PasswordChecker(threads=settings.password_hash_threads)
    app.state.before_scrape = (authority_service.read_action_counts,)
    app.add_exception_handler(OnshiError, _onshi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    if settings.direct_lane:  # inside the input guard: it gets whole, checked bodies
        app.add_middleware(DirectLane, routes=DIRECT_ROUTES)
    # inside the request-id middleware: its refusals carry the id
    app.add_middleware(InputGuardMiddleware, streamed=is_batch_upload)
    app.add_middleware(RequestContextMiddleware)
    _include_routers(app)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    use_error_body_for_validation(app)
    return app


def _include_routers(app: FastAPI) -> None:
    from service.apidocs.routes import router as docs_router
    from service.authority.routes import router as authority_router
    from service.consent.routes import router as consent_router
    from service.core.health import router as health_router
    from service.eligibility.routes import router as eligibility_router
    from service.fhir.routes import router as fhir_router
    from service.linking.routes import router as linking_router
    from service.portal.routes import router as portal_router
    from service.records.routes import checkup_router, medication_router
    from service.verification.routes import router as verification_router
    from service.viewer.pages import router as viewer_pages
    from service.viewer.routes import router as viewer_router

    # Routes are matched in this order: the reception terminal's (the hot path, docs/scaling.md) come first.
    for router in (verification_router, consent_router, health_router, authority_router, eligibility_router,
                   linking_router, checkup_router, medication_router, viewer_router, viewer_pages, fhir_router,
                   docs_router, portal_router):
        app.include_router(router)
