"""The API's app factory: lifespan (Redis, Chroma, compute, queue, in-process workers, reconciler),
error envelope, API keys, CORS, request metrics, and the /api/v1 routers."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

from orchestrator import ingest
from orchestrator.api import admin, collections, documents, errors, health, jobs, search, uploads
from orchestrator.api.auth import require_api_key
from orchestrator.api.request_context import RequestContext
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
    app.add_middleware(RequestContext, registry=app.state.metrics)
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
