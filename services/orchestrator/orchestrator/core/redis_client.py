"""One way to open Redis, and the errors that mean "Redis is away (or busy) for now, try again"."""

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry

from orchestrator.settings import Settings

# BusyLoadingError (a restarted server still reading its append-only file) is a ConnectionError, and so
# is a pool that had no free connection within redis_pool_timeout_s.
TRANSIENT_ERRORS = (ConnectionError, TimeoutError)


def connect(settings: Settings, *, max_connections: int | None = None) -> Redis:
    """A client whose pool holds at most `max_connections` (redis_max_connections by default); a caller
    past that waits up to redis_pool_timeout_s for one to come back, then gets a ConnectionError."""
    # No silent client-side retries: re-sending a script whose reply was lost could run it twice. The
    # workers retry on their own terms, and the scripts they re-send are idempotent.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=max_connections or settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_s,
        decode_responses=True,
        socket_connect_timeout=settings.redis_connect_timeout_s,
        socket_timeout=settings.redis_socket_timeout_s,
        retry=Retry(NoBackoff(), 0),
    )
    # auto_close_connection_pool: aclose() also disconnects the pool this client owns.
    return Redis(connection_pool=pool, auto_close_connection_pool=True)
