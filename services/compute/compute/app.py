"""The compute app factory. The lifespan loads models and starts the parse workers before serving."""

import asyncio
import logging
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from compute.embedding.model import EmbeddingModel, default_model_path
from compute.embedding.queue import EmbedQueue
from compute.errors import install_handlers
from compute.metrics import Metrics
from compute.middleware import ServiceMiddleware
from compute.parsing.pool import ParsePool
from compute.routes import chunk, embed, health, metadata, parse
from compute.settings import Settings
from compute.state import AppState

log = logging.getLogger("compute")


def _load_models(settings: Settings) -> dict[str, EmbeddingModel]:
    paths = {settings.default_model: default_model_path(), **settings.models}
    return {
        name: EmbeddingModel(name, path, backend=settings.embed_backend, threads=settings.embed_threads)
        for name, path in paths.items()
    }


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    state = AppState(settings=settings, metrics=Metrics())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.service_token is None:
            log.warning("COMPUTE_SERVICE_TOKEN is not set: the compute service accepts requests from anyone")
        state.parse_pool = ParsePool(settings)
        # Models load in a thread while the parse workers start in their own processes.
        models, _ = await asyncio.gather(asyncio.to_thread(_load_models, settings), state.parse_pool.start())
        state.models = models
        state.token_counter()  # built before serving: copying a tokenizer takes a moment
        state.embed_queue = EmbedQueue(
            settings.embed_queue_max_texts, settings.embed_batch_tokens, settings.retry_after_s
        )
        state.embed_queue.start()
        state.http = httpx.AsyncClient()
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

    app = FastAPI(title="docsearch compute", version="0.1.0", lifespan=lifespan)
    app.state.compute = state
    install_handlers(app)
    for module in (parse, chunk, embed, metadata, health):
        app.include_router(module.router)
    token = settings.service_token.get_secret_value() if settings.service_token else None
    app.add_middleware(ServiceMiddleware, token=token, metrics=state.metrics)
    return app
