"""The API's app factory: lifespan (Redis, Chroma, compute, queue, in-process workers, reconciler),
error envelope, API keys, CORS, request metrics, and the /api/v1 routers."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

import orchestrator.api.console as console
import orchestrator.api.docs_page as docs_page
import orchestrator.api.errors as errors
import orchestrator.api.ratelimit as ratelimit
from orchestrator.api.auth import require_api_key
from orchestrator.api.body_limit import BodyLimit
from orchestrator.api.operation_ids import operation_id
from orchestrator.api.readiness import SharedRun
from orchestrator.api.request_context import RequestContext
from orchestrator.api.routes import admin, collection_routes, documents, health, jobs, search, uploads
from orchestrator.api.security import check_security
from orchestrator.clients import Clients
from orchestrator.core.redis_client import connect
from orchestrator.ingest import run_periodically
from orchestrator.jobs import EventHub, PoolCollector, WorkerPool, load_factory
from orchestrator.search import CacheCollector, QueryCache, SearchEngine
from orchestrator.search.lexical import LexicalCollector, LexicalFollower, LexicalIndex, claim_slot
from orchestrator.settings import Settings

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def search_engine(app: FastAPI, clients: Clients) -> AsyncIterator[SearchEngine]:
    """The query cache and, unless ORCH_LEXICAL_ENABLED=false, this process's lexical index (a slot of its
    own under lexical_dir, followed from the registry's change stream in the background), behind one
    SearchEngine."""
    settings = clients.settings
    cache = QueryCache(
        clients.redis,
        ttl_s=settings.search_cache_ttl_s,
        max_entries=settings.search_cache_max_entries,
        max_entry_bytes=settings.search_cache_max_entry_bytes,
    )
    app.state.metrics.register(CacheCollector(cache))
    if not settings.lexical_enabled:
        yield SearchEngine(clients, cache=cache)
        return
    slot = claim_slot(Path(settings.lexical_dir))
    # Its blocking reads wait on a connection of their own, never one of the shared pool.
    stream_redis = connect(settings, max_connections=2)
    try:
        index = await asyncio.to_thread(LexicalIndex.open, slot.path)
        follower = LexicalFollower(clients, index, stream_redis=stream_redis)
        app.state.metrics.register(LexicalCollector(follower))
        await follower.start()
        try:
            yield SearchEngine(clients, index=index, follower=follower, cache=cache)
        finally:
            await follower.stop()
            await asyncio.to_thread(index.close)
    finally:
        await stream_redis.aclose()
        slot.release()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    clients = Clients.build(settings)
    await clients.queue.setup()
    app.state.clients = clients
    app.state.limiter = ratelimit.build_limiter(clients.redis)  # on the clients' pool: nothing to close
    # Event streams read through a hub on a connection of their own, never from the shared pool.
    hub = EventHub(
        connect(settings, max_connections=2),
        max_streams=settings.sse_max_streams,
        max_per_owner=settings.sse_max_streams_per_key,
        block_s=min(1.0, settings.idle_block_s),
    )
    await hub.start()
    app.state.event_hub = hub
    pool: WorkerPool | None = None
    stop = asyncio.Event()
    reconcile_task: asyncio.Task[None] | None = None
    engines = contextlib.AsyncExitStack()
    try:
        app.state.search = await engines.enter_async_context(search_engine(app, clients))
        if settings.api_workers > 0:
            handlers = load_factory(settings.handlers)(clients)  # the API's own clients, shared
            pool = WorkerPool(clients.queue, handlers, concurrency=settings.api_workers)
            app.state.metrics.register(PoolCollector(pool))
            await pool.start()
        app.state.pool = pool
        if settings.reconcile_interval_s > 0:
            reconcile_task = asyncio.create_task(
                run_periodically(clients, settings.reconcile_interval_s, stop)
            )
        yield
    finally:
        stop.set()
        if reconcile_task is not None:
            await reconcile_task
        if pool is not None:
            await pool.stop()
        await engines.aclose()
        await hub.stop()
        await clients.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    api_keys = check_security(settings)
    # The schema and its page only where asked for: `make openapi` reads app.openapi(), served or not.
    docs = settings.env == "dev" or settings.public_docs
    app = FastAPI(
        title="docsearch orchestrator",
        version="1",
        description="Collections, document ingestion with progress, and semantic search.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        openapi_url="/openapi.json" if docs else None,
        docs_url=None,  # docs_page instead: Swagger UI and ReDoc load from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.api_keys = api_keys
    app.state.metrics = CollectorRegistry()
    app.state.readiness = SharedRun()  # /readyz's probes: one run a second at most, shared
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_json_bytes)
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
    modules = (collection_routes, uploads, documents, jobs, search, admin)
    for router in (*(module.router for module in modules), health.admin_router):
        app.include_router(router, prefix="/api/v1", dependencies=secured, responses=errors.ERROR_RESPONSES)
    app.include_router(health.router)
    if docs:
        docs_page.install(app)
    console.install(app, settings.console_dir)
    return app
