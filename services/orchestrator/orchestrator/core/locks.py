"""Redis locks with an owner token: releasing one deletes it only while it is still this holder's, so a
holder that outlived its TTL never frees the next holder's lock. `owned_lock` waits for its turn;
`single_flight` does not, and renews its TTL while held, for work that may outlast any fixed TTL."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError

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
        await _release(lock, key)


@asynccontextmanager
async def single_flight(
    redis: Redis, key: str, *, ttl_s: float, token: str, busy: Callable[[str | None], Exception]
) -> AsyncIterator[None]:
    """Holds `key` (its value: `token`) or raises busy(the holder's token) at once. The TTL is renewed
    every ttl_s/3 while held: a long holder keeps it, one whose process dies frees it within ttl_s."""
    lock = Lock(redis, key, timeout=ttl_s, thread_local=False)
    if not await lock.acquire(blocking=False, token=token):
        raise busy(await redis.get(key))  # None if the holder let go in between
    renewing = asyncio.create_task(_renew(lock, key, every_s=ttl_s / 3))
    try:
        yield
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
        await _release(lock, key)


async def _renew(lock: Lock, key: str, *, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await lock.reacquire()
        except LockNotOwnedError:  # expired (Redis away past the TTL) and maybe taken: nothing to renew
            log.warning("lock %s was lost while held", key)
            return
        except Exception as exc:  # Redis away a moment: the next renewal, within the TTL, tries again
            log.warning("could not renew lock %s: %r", key, exc)


async def _release(lock: Lock, key: str) -> None:
    try:
        await lock.release()
    except LockError as exc:  # it expired (and may be another holder's now): not ours to delete
        log.warning("lock %s expired before its holder finished: %s", key, exc)
    except Exception as exc:  # Redis went away: its TTL frees it
        log.warning("could not release lock %s: %r", key, exc)
