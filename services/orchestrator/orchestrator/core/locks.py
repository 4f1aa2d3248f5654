"""A Redis lock with an owner token, held across an `async with`: releasing it deletes it only while it is
still this holder's, so a holder that outlived its TTL never frees the next holder's lock."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

log = logging.getLogger(__name__)


@asynccontextmanager
async def owned_lock(
    redis: Redis, key: str, *, ttl_s: float, wait_s: float, poll_s: float, busy: Exception
) -> AsyncIterator[None]:
    """Holds `key`, waiting up to wait_s for the holder before; raises `busy` if it is still held then."""
    lock = Lock(
        redis,
        key,
        timeout=ttl_s,
        sleep=poll_s,
        blocking_timeout=wait_s,
        thread_local=False,  # one Lock per holder; tasks of one thread must not share a token
    )
    if not await lock.acquire():
        raise busy
    try:
        yield
    finally:
        try:
            await lock.release()
        except LockError as exc:  # it expired (and may be another holder's now): not ours to delete
            log.warning("lock %s expired before its holder finished: %s", key, exc)
        except Exception as exc:  # Redis went away: its TTL frees it
            log.warning("could not release lock %s: %r", key, exc)
