"""The clients one orchestrator process shares between its API and its job handlers, built once at start
(by the API's lifespan or the `worker` command) and closed once at the end."""

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from orchestrator.catalog import BlobStore, Registry
from orchestrator.compute_client import ComputeClient
from orchestrator.core.redis_client import connect
from orchestrator.jobs import JobQueue
from orchestrator.settings import Settings
from orchestrator.vectors import VectorStore

READY_CHECK_TIMEOUT_S = 3.0

log = logging.getLogger("orchestrator.readiness")


async def _probe(name: str, probe: Awaitable[Any], request_id: str | None) -> tuple[Any, str | None]:
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


def _verdict(name: str, outcome: tuple[Any, str | None], request_id: str | None) -> dict[str, Any]:
    result, reason = outcome
    if reason is None and not result:
        log.warning("readiness request_id=%s: %s does not answer", request_id, name)
        reason = "unreachable"
    return {"ok": reason is None, "reason": reason}


def _compute_verdict(
    outcome: tuple[dict[str, bool] | None, str | None], replicas: int, request_id: str | None
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


@dataclass
class Clients:
    settings: Settings
    redis: Redis
    registry: Registry
    blobs: BlobStore
    queue: JobQueue
    vectors: VectorStore
    compute: ComputeClient

    @classmethod
    def build(cls, settings: Settings, redis: Redis | None = None) -> "Clients":
        """Cheap and without I/O: every client connects on first use (so this works while a dependency
        is down). With no `redis` given, opens one from settings (closed by `close`)."""
        redis = redis if redis is not None else connect(settings)
        return cls(
            settings=settings,
            redis=redis,
            registry=Registry(redis),
            blobs=BlobStore(settings.blob_url),
            queue=JobQueue(redis, settings),
            vectors=VectorStore.from_settings(settings),
            compute=ComputeClient.from_settings(settings),
        )

    async def readiness(self, request_id: str | None = None) -> dict[str, dict[str, Any]]:
        """Whether Redis, Chroma and each compute replica answer, each bounded by a short timeout: per
        check `ok` and a fixed `reason` when not (compute: `ready` replicas and each one's answer, in
        ORCH_COMPUTE_URLS order). No address or exception text: those go to the log, with `request_id`."""
        chroma_name = f"chroma at {self.settings.chroma_url}"  # for the log
        redis, chroma, compute = await asyncio.gather(
            _probe("redis", self.redis.ping(), request_id),
            _probe(chroma_name, self.vectors.heartbeat(), request_id),
            _probe("compute", self.compute.replicas_ready(), request_id),
        )
        return {
            "redis": _verdict("redis", redis, request_id),
            "chroma": _verdict(chroma_name, chroma, request_id),
            "compute": _compute_verdict(compute, len(self.compute.urls), request_id),
        }

    async def close(self) -> None:
        await self.compute.close()
        await self.vectors.close()
        await self.redis.aclose()
