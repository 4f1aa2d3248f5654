"""Per-client rate limits (uploads, searches): a fixed one-minute window counted in Redis, so every API
process shares it. The client is its API key (hashed), or its address in dev mode without keys."""

import hashlib
import time
from collections.abc import Awaitable, Callable

from fastapi import Request

from orchestrator.api.errors import ApiError
from orchestrator.core import keys

WINDOW_S = 60


def client_id(request: Request) -> str:
    token = request.headers.get("authorization", "").partition(" ")[2].strip()
    if token:
        return hashlib.sha256(token.encode()).hexdigest()[:16]
    return request.client.host if request.client else "unknown"


def limit(kind: str, per_min: Callable[[Request], int]) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        allowed = per_min(request)
        if allowed <= 0:
            return
        now = time.time()
        window = int(now // WINDOW_S)
        key = keys.rate_window(kind, client_id(request), window)
        redis = request.app.state.clients.redis
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_S * 2)
            count, _ = await pipe.execute()
        if count > allowed:
            retry_after_s = max(1, int((window + 1) * WINDOW_S - now))
            raise ApiError(
                429,
                "rate_limited",
                f"more than {allowed} {kind} per minute; retry in {retry_after_s} s",
                retryable=True,
                headers={"Retry-After": str(retry_after_s)},
            )

    return check


uploads = limit("uploads", lambda r: r.app.state.settings.uploads_per_min)
searches = limit("searches", lambda r: r.app.state.settings.searches_per_min)
