"""The compute app factory. The lifespan loads models and starts the parse workers before serving."""

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from compute.body_limit import MULTIPART_OVERHEAD_BYTES, BodyLimitMiddleware
from compute.embedding import EmbeddingModel, EmbedQueue, default_model_path
from compute.errors import install_handlers
from compute.metadata import local as local_metadata
from compute.metrics import Metrics
from compute.middleware import ServiceMiddleware
from compute.parsing import ParsePool
from compute.routes import ROUTERS
from compute.settings import Settings
from compute.state import AppState
from contracts.credentials import weak_secret

log = logging.getLogger("compute")


def _load_models(settings: Settings) -> dict[str, EmbeddingModel]:
    paths = {settings.default_model: default_model_path(), **settings.models}
    return {
        name: EmbeddingModel(
            name,
            path,
            backend=settings.embed_backend,
            threads=settings.embed_threads,
            cache_dir=settings.model_cache_dir,
        )
        for name, path in paths.items()
    }


class InsecureConfig(RuntimeError):
    """The service would start open to anyone (no token outside dev mode), or behind a token that is a
    shipped placeholder or short enough to guess."""


def check_token(settings: Settings) -> None:
    token = settings.service_token.get_secret_value() if settings.service_token is not None else ""
    if token:
        if reason := weak_secret(token, "COMPUTE_SERVICE_TOKEN"):
            raise InsecureConfig(f"{reason}; refusing to start (generate one with `openssl rand -hex 32`)")
        return
    if settings.env != "dev":
        raise InsecureConfig(
            "COMPUTE_SERVICE_TOKEN is not set; refusing to start (set COMPUTE_ENV=dev to run open, for dev only)"
        )
    log.warning(
        "DEV MODE (COMPUTE_ENV=dev): COMPUTE_SERVICE_TOKEN is not set, compute accepts requests from anyone"
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    check_token(settings)
    state = AppState(settings=settings, metrics=Metrics())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.parse_pool = ParsePool(settings)
        # The parse workers start first: the model's load times its backends against each other to choose
        # one, and a worker importing Docling beside it on two cores made int8 read 1.01x fp32 in one
        # start and 1.3x in the next.
        await state.parse_pool.start()
        models = await asyncio.to_thread(_load_models, settings)
        state.models = models
        await asyncio.to_thread(local_metadata.warm_up)
        state.token_counter()  # built before serving: copying a tokenizer takes a moment
        state.embed_queue = EmbedQueue(
            settings.embed_queue_max_texts,
            settings.embed_batch_tokens,
            settings.retry_after_s,
            linger_s=settings.embed_linger_ms / 1000,
            on_pass=state.metrics.embed_pass_texts.observe,
        )
        state.embed_queue.start()
        state.http = httpx.AsyncClient()
        # torch, transformers and Docling's modules are millions of objects; a full collection that scans
        # them holds the GIL (and so the event loop) for ~0.4 s while a thread builds a big response.
        # Frozen, they are never scanned again (the parse worker does the same).
        gc.collect()
        gc.freeze()
        state.ready = True
        for m in models.values():
            log.info("model %s loaded: dim=%d backend=%s dtype=%s", m.name, m.dim, m.backend, m.dtype)
        try:
            yield
        finally:
            state.ready = False
            await state.embed_queue.close()
            await state.parse_pool.close()
            await state.http.aclose()

    # No Swagger UI or ReDoc: they load from a CDN. /openapi.json wants the token like every route.
    app = FastAPI(
        title="docsearch compute", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.compute = state
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    # Added first, so it runs inside the token check: an unauthorised body is never read at all.
    app.add_middleware(
        BodyLimitMiddleware,
        route_limits={"/parse": settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES},
        default_bytes=settings.max_json_bytes,
    )
    token = settings.service_token.get_secret_value() if settings.service_token else None
    app.add_middleware(ServiceMiddleware, token=token, metrics=state.metrics)
    return app
