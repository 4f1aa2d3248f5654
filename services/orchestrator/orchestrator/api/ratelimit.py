"""Per-client rate limits (uploads, searches, collection creation, reconcile rounds): a moving window of
60 s kept in Redis by the `limits` library, so every API process shares it and no client gets more than
its limit in any 60 s. Who the client is, is `client_id`'s one decision (event-stream caps use it too)."""

import hashlib
import math
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from orchestrator.api.errors import ApiError
from orchestrator.core import keys
from orchestrator.settings import Settings


def client_id(request: Request) -> str:
    """Who is asking: the API key (hashed) when keys are configured, else (dev mode) the client's address,
    never an unchecked Bearer string, which a client could change on each request to escape its limits."""
    if request.app.state.api_keys:  # require_api_key ran first: the token is one of the keys
        token = request.headers.get("authorization", "").partition(" ")[2].strip()
        return hashlib.sha256(token.encode()).hexdigest()[:16]
    return request.client.host if request.client else "unknown"


def build_limiter(redis: Redis) -> MovingWindowRateLimiter:
    """The app's limiter. It borrows the app's Redis pool (its URL, ACL user, TLS and timeouts), so it
    opens no connection of its own and closes with the app's clients; Redis errors reach the API's
    handlers as they are (503 `unavailable`)."""
    storage = RedisStorage(
        "async+redis://",  # only parsed: the connections come from the pool
        implementation="redispy",
        key_prefix=keys.RATE_LIMITS,
        connection_pool=redis.connection_pool,
    )
    return MovingWindowRateLimiter(storage)


def limit(kind: str, per_min: Callable[[Settings], int]) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        allowed = per_min(request.app.state.settings)
        if allowed <= 0:
            return
        limiter: MovingWindowRateLimiter = request.app.state.limiter
        item, who = RateLimitItemPerMinute(allowed), client_id(request)
        if await limiter.hit(item, kind, who):  # a refused request takes no place in the window
            return
        stats = await limiter.get_window_stats(item, kind, who)  # reset: when the oldest one leaves
        retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            429,
            "rate_limited",
            f"more than {allowed} {kind} in 60 s; retry in {retry_after_s} s",
            retryable=True,
            headers={"Retry-After": str(retry_after_s)},
        )

    return check


uploads = limit("uploads", lambda s: s.uploads_per_min)
searches = limit("searches", lambda s: s.searches_per_min)
collections = limit("collections", lambda s: s.collections_per_min)
reconciles = limit("reconciles", lambda s: s.reconciles_per_min)
