"""The dependency probes behind /readyz and GET /api/v1/admin/health: Redis, Chroma and each compute
replica, each bounded by a short timeout, each answered as `ok` and a fixed Reason; what failed, with its
addresses and exception text, goes to the log only."""

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Literal

from orchestrator.clients import Clients

Reason = Literal["unreachable", "timeout", "no_replica_ready", "not_caught_up"]
READY_CHECK_TIMEOUT_S = 3.0

log = logging.getLogger("orchestrator.readiness")


async def _probe(name: str, probe: Awaitable[Any], request_id: str | None) -> tuple[Any, Reason | None]:
    """The probe's result and None, or None and a fixed reason (`timeout`, `unreachable`): what failed,
    with its exception text and addresses, goes to the log only."""
    try:
        async with asyncio.timeout(READY_CHECK_TIMEOUT_S):
            return await probe, None
    except TimeoutError:
        log.warning(
            "readiness request_id=%s: %s did not answer in %.0f s", request_id, name, READY_CHECK_TIMEOUT_S
        )
        return None, "timeout"
    except Exception as exc:
        log.warning("readiness request_id=%s: %s failed: %s: %s", request_id, name, type(exc).__name__, exc)
        return None, "unreachable"


def _verdict(name: str, outcome: tuple[Any, Reason | None], request_id: str | None) -> dict[str, Any]:
    result, reason = outcome
    if reason is None and not result:
        log.warning("readiness request_id=%s: %s does not answer", request_id, name)
        reason = "unreachable"
    return {"ok": reason is None, "reason": reason}


def _compute_verdict(
    outcome: tuple[dict[str, bool] | None, Reason | None], replicas: int, request_id: str | None
) -> dict[str, Any]:
    """Replicas by their index in ORCH_COMPUTE_URLS, never by address (the addresses go to the log)."""
    answers, reason = outcome
    ready = list(answers.values()) if answers else [False] * replicas
    for index, (url, ok) in enumerate((answers or {}).items()):
        if not ok:
            log.warning(
                "readiness request_id=%s: compute replica %d (%s) is not ready", request_id, index, url
            )
    if reason is None and not any(ready):
        reason = "no_replica_ready"
    return {"ok": reason is None, "reason": reason, "ready": sum(ready), "replicas": ready}


async def probe_dependencies(clients: Clients, request_id: str | None = None) -> dict[str, dict[str, Any]]:
    """Whether Redis, Chroma and each compute replica answer, each bounded by a short timeout: per check
    `ok` and a fixed `reason` when not (compute: `ready` replicas and each one's answer, in
    ORCH_COMPUTE_URLS order). No address or exception text: those go to the log, with `request_id`."""
    chroma_name = f"chroma at {clients.settings.chroma_url}"  # for the log
    redis, chroma, compute = await asyncio.gather(
        _probe("redis", clients.redis.ping(), request_id),
        _probe(chroma_name, clients.vectors.heartbeat(), request_id),
        _probe("compute", clients.compute.replicas_ready(), request_id),
    )
    return {
        "redis": _verdict("redis", redis, request_id),
        "chroma": _verdict(chroma_name, chroma, request_id),
        "compute": _compute_verdict(compute, len(clients.compute.urls), request_id),
    }
