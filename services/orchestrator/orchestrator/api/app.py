"""The API's app factory: lifespan (Redis, Chroma, compute, queue, in-process workers, reconciler),
error envelope, API keys, CORS, request metrics, and the /api/v1 routers."""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry, Counter, Histogram

from contracts import REQUEST_ID_HEADER
from orchestrator import ingest
from orchestrator.api import admin, collections, documents, errors, health, jobs, search, uploads
from orchestrator.api.auth import require_api_key
from orchestrator.handlers import load_factory
from orchestrator.metrics import PoolCollector
from orchestrator.reconciler import run_periodically
from orchestrator.redis_client import connect
from orchestrator.services import Services
from orchestrator.settings import Settings
from orchestrator.worker import WorkerPool

log = logging.getLogger(__name__)

DEFAULT_HANDLERS = "orchestrator.ingest:handlers"


class InsecureConfiguration(RuntimeError):
    pass


def check_security(settings: Settings) -> list[str]:
    keys = settings.api_key_list
    if keys:
        return keys
    if settings.env != "dev":
        raise InsecureConfiguration(
            "no API keys: set ORCH_API_KEYS (comma-separated), or ORCH_ENV=dev to run without authentication"
        )
    log.warning("!" * 78)
    log.warning("ORCH_ENV=dev and no ORCH_API_KEYS: the API accepts every request WITHOUT AUTHENTICATION")
    log.warning("!" * 78)
    return []


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    redis = connect(settings)
    services = Services.build(settings, redis)
    await services.queue.setup()
    app.state.services = services
    pool: WorkerPool | None = None
    stop = asyncio.Event()
    reconcile_task: asyncio.Task[None] | None = None
    try:
        if settings.api_workers > 0:
            if settings.handlers == DEFAULT_HANDLERS:
                handlers = ingest.build(services)  # the API's own clients, shared
            else:
                handlers = load_factory(settings.handlers)(settings, redis)
            pool = WorkerPool(redis, settings, handlers, concurrency=settings.api_workers)
            app.state.metrics.register(PoolCollector(pool))
            await pool.start()
        app.state.pool = pool
        if settings.reconcile_interval_s > 0:
            reconcile_task = asyncio.create_task(
                run_periodically(services, settings.reconcile_interval_s, stop)
            )
        yield
    finally:
        stop.set()
        if reconcile_task is not None:
            await reconcile_task
        if pool is not None:
            await pool.stop()
        await services.compute.close()
        close = getattr(services.vectors, "close", None)
        if close is not None:
            await close()
        await redis.aclose()


def _request_metrics(app: FastAPI, registry: CollectorRegistry) -> None:
    requests = Counter(
        "orchestrator_http_requests",
        "HTTP requests by route and status",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "orchestrator_http_request_seconds",
        "HTTP request latency by route",
        ["method", "route"],
        registry=registry,
    )

    @app.middleware("http")
    async def count(request: Request, call_next):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        requests.labels(request.method, path, str(response.status_code)).inc()
        latency.labels(request.method, path).observe(time.perf_counter() - start)
        return response


def _request_ids(app: FastAPI) -> None:
    """Every request has an id (the client's X-Request-ID if it is sane, else a new one): it is answered
    back, and travels to compute with the calls made for the request."""

    @app.middleware("http")
    async def request_id(request: Request, call_next):  # type: ignore[no-untyped-def]
        given = request.headers.get(REQUEST_ID_HEADER, "")
        ok = 0 < len(given) <= 128 and all(c.isalnum() or c in "-_.:" for c in given)
        request.state.request_id = given if ok else uuid.uuid4().hex
        response = await call_next(request)
        response.headers[REQUEST_ID_HEADER] = request.state.request_id
        return response


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    api_keys = check_security(settings)
    app = FastAPI(
        title="docsearch orchestrator",
        version="1",
        description="Collections, document ingestion with progress, and semantic search.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.api_keys = api_keys
    app.state.metrics = CollectorRegistry()
    errors.install(app)
    _request_metrics(app, app.state.metrics)
    _request_ids(app)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
            expose_headers=["Location"],
        )
    secured = [Depends(require_api_key)]
    for module in (collections, uploads, documents, jobs, search, admin):
        app.include_router(module.router, prefix="/api/v1", dependencies=secured)
    app.include_router(health.router)
    return app
