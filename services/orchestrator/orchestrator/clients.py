"""The clients one orchestrator process shares between its API and its job handlers, built once at start
(by the API's lifespan or the `worker` command) and closed once at the end."""

from dataclasses import dataclass

from redis.asyncio import Redis

from orchestrator.catalog import BlobStore, Registry
from orchestrator.compute_client import ComputeClient
from orchestrator.core.redis_client import connect
from orchestrator.jobs import JobQueue
from orchestrator.settings import Settings
from orchestrator.vectors import VectorStore


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

    async def close(self) -> None:
        await self.compute.close()
        await self.vectors.close()
        await self.redis.aclose()
