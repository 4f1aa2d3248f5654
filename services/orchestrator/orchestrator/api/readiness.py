"""The readiness report behind /readyz (its status only) and GET /api/v1/admin/health (the checks): the
dependency probes (dependency_probes) run at most once per READY_TTL_S in a process, one run shared by every
caller that comes meanwhile, while this process's lexical index is read fresh on each call (no I/O)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field

from orchestrator.api.dependency_probes import Reason, probe_dependencies

READY_TTL_S = 1.0  # how long one run of the probes answers every caller

T = TypeVar("T")


class Readiness(BaseModel):
    """/readyz: 200 `ready`, 503 `not_ready`; the checks are at GET /api/v1/admin/health."""

    status: Literal["ready", "not_ready"]


class DependencyCheck(BaseModel):
    ok: bool
    reason: Reason | None = Field(None, description="why not, when not ok: a fixed code")


class ComputeCheck(DependencyCheck):
    ready: int = Field(description="replicas that answered their /readyz with 200")
    replicas: list[bool] = Field(description="each replica's answer, in ORCH_COMPUTE_URLS order")


class LexicalCheck(DependencyCheck):
    applied: str | None = Field(None, description="the newest registry change this process's index holds")


class HealthChecks(BaseModel):
    redis: DependencyCheck
    chroma: DependencyCheck
    compute: ComputeCheck
    lexical: LexicalCheck | None = Field(None, description="null where this process holds no lexical index")


class HealthReport(Readiness):
    """Each check of this API process, with a fixed reason code where it fails: no address and no
    exception text (those go to the log, with the request id of the call that ran the probes)."""

    checks: HealthChecks


class SharedRun(Generic[T]):
    """At most one run of a computation in flight, its result shared with every caller until ttl_s after it
    ended. A caller that goes away does not cancel the run the others wait for."""

    def __init__(self, ttl_s: float = READY_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.clock = ttl_s, clock
        self.runs = 0
        self._task: asyncio.Task[T] | None = None
        self._ended_at = 0.0

    async def get(self, compute: Callable[[], Awaitable[T]]) -> T:
        task = self._task
        if task is None or (
            task.done() and (self._failed(task) or self.clock() - self._ended_at >= self.ttl_s)
        ):
            task = self._task = asyncio.create_task(self._run(compute))
        return await asyncio.shield(task)

    @staticmethod
    def _failed(task: asyncio.Task[T]) -> bool:
        """A run that raised is not kept: the next caller tries again."""
        return task.cancelled() or task.exception() is not None

    async def _run(self, compute: Callable[[], Awaitable[T]]) -> T:
        self.runs += 1
        try:
            return await compute()
        finally:
            self._ended_at = self.clock()


async def health_report(request: Request) -> HealthReport:
    state = request.app.state
    request_id = getattr(request.state, "request_id", None)
    clients = state.clients
    checks: dict[str, Any] = dict(await state.readiness.get(lambda: probe_dependencies(clients, request_id)))
    lexical = state.search.readiness()  # None in a process without an index
    if lexical is not None:
        ok = bool(lexical["ok"])
        checks["lexical"] = {
            "ok": ok,
            "reason": None if ok else "not_caught_up",
            "applied": lexical["applied"],
        }
    ready = all(check["ok"] for check in checks.values())
    return HealthReport(status="ready" if ready else "not_ready", checks=HealthChecks.model_validate(checks))
