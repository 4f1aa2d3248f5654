"""Handlers: one async function per job type, made by a factory named in settings (`ORCH_HANDLERS`).

A handler is `async def handler(ctx: JobContext, job: Job) -> None`. It must be idempotent (a job can run
again after its worker died), check for a cancel between steps (`ctx.check_cancelled()`, or a report with
`ctx.progress` or `ctx.stage`, which answers the same question in the same round trip), and
raise `JobError` to say whether a failure is retryable or poison; returning means success. It must not
block the event loop (CPU work goes to a thread or process), or the heartbeat stalls and its lease lapses.

The factory takes the process's clients (`orchestrator.clients.Clients`) and returns the handlers; the
API's lifespan and the `worker` command both get their handlers this one way. The queue does not know
what the clients hold, so the type says only "a factory of handlers".
"""

import importlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from orchestrator.jobs.context import JobContext
from orchestrator.jobs.model import Job, JobType

Handler = Callable[[JobContext, Job], Awaitable[None]]
Handlers = Mapping[JobType, Handler]
HandlerFactory = Callable[[Any], Handlers]


def load_factory(spec: str) -> HandlerFactory:
    """Imports `module:attribute`."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"handlers spec {spec!r} is not module:attribute")
    factory: HandlerFactory = getattr(importlib.import_module(module_name), attribute)
    return factory
