"""Handlers: one async function per job type, made by a factory named in settings (`ORCH_HANDLERS`).

A handler, `async def handler(ctx: JobContext, job: Job) -> None`, is idempotent (a job can run again
after its worker died), checks for a cancel between steps (`ctx.check_cancelled()`, `ctx.progress`,
`ctx.stage`), raises `JobError` to say whether a failure is retryable or poison, and never blocks the
event loop (its heartbeat would stall). The factory takes the process's `Clients`, which the queue does
not know, so its type says only "a factory of handlers". See docs/architecture.md#the-job-queue.
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
