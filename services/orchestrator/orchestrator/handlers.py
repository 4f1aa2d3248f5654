"""Handlers: one async function per job type, supplied by a factory named in settings (`ORCH_HANDLERS`).

A handler is `async def handler(ctx: JobContext, job: Job) -> None`. It must be idempotent (a job can run
again after its worker died), call `ctx.check_cancelled()` between steps, report with `ctx.progress`, and
raise `JobError` to say whether a failure is retryable or poison; returning means success. It must not
block the event loop (CPU work goes to a thread or process), or the heartbeat stalls and its lease lapses.
"""

import importlib
from collections.abc import Awaitable, Callable, Mapping

from redis.asyncio import Redis

from orchestrator.context import JobContext
from orchestrator.records import Job, JobType
from orchestrator.settings import Settings

Handler = Callable[[JobContext, Job], Awaitable[None]]
Handlers = Mapping[JobType, Handler]
HandlerFactory = Callable[[Settings, Redis], Handlers]


def default_handlers(settings: Settings, redis: Redis) -> Handlers:
    """No handler at all (a job without one is dead-lettered). The default ORCH_HANDLERS factory is
    `orchestrator.ingest:handlers`: ingest, reingest, delete_document, delete_collection, reconcile."""
    return {}


def load_factory(spec: str) -> HandlerFactory:
    """Imports `module:attribute`."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"handlers spec {spec!r} is not module:attribute")
    factory: HandlerFactory = getattr(importlib.import_module(module_name), attribute)
    return factory
