"""One way to open Redis, and the errors that mean "Redis is away for now, try again"."""

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry

from orchestrator.settings import Settings

# BusyLoadingError (a restarted server still reading its append-only file) is a ConnectionError.
TRANSIENT_ERRORS = (ConnectionError, TimeoutError)


def connect(settings: Settings) -> Redis:
    # No silent client-side retries: re-sending a script whose reply was lost could run it twice. The
    # workers retry on their own terms, and the scripts they re-send are idempotent.
    return Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=settings.redis_connect_timeout_s,
        socket_timeout=settings.redis_socket_timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
