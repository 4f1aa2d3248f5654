"""The priority streams' consumer group, which producers and workers alike need to exist."""

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from orchestrator.core import keys
from orchestrator.jobs.model import PRIORITIES


async def ensure_groups(redis: Redis) -> None:
    """Creates the consumer group on each priority stream, from the stream's start so no entry is skipped."""
    for priority in PRIORITIES:
        try:
            await redis.xgroup_create(keys.stream(priority), keys.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
