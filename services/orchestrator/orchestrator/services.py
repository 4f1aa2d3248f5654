"""The clients one orchestrator process shares between its API and its job handlers."""

from dataclasses import dataclass

from redis.asyncio import Redis

from orchestrator.compute_client import ComputeClient
from orchestrator.queue import JobQueue
from orchestrator.registry import Registry
from orchestrator.settings import Settings
from orchestrator.vectors import VectorStore


@dataclass
class Services:
    settings: Settings
    redis: Redis
    registry: Registry
    queue: JobQueue
    vectors: VectorStore
    compute: ComputeClient

    @classmethod
    def build(cls, settings: Settings, redis: Redis) -> "Services":
        return cls(
            settings=settings,
            redis=redis,
            registry=Registry(redis),
            queue=JobQueue(redis, settings),
            vectors=VectorStore.from_settings(settings),
            compute=ComputeClient.from_settings(settings),
        )
