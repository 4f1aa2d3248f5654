"""Keyset pagination over the lexical indexes (sorted sets whose members all score 0).

Ids sort by creation time (`records.new_id`), so an index read by lexical range is a listing by time, and
the cursor is simply the last id returned: stable while records are added or removed.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from redis.asyncio import Redis

from orchestrator.core.ids import id_floor
from orchestrator.core.records import Page

T = TypeVar("T")

# A filtered listing reads at most this many ids per page, then hands back a cursor to go on from.
MAX_SCAN = 2_000


def narrowest_index(*candidates: str | None, everything: str) -> str:
    """The first index a listing's filters name (the caller orders them narrowest first), else the index
    of every record; the listing's `keep` applies the other filters."""
    return next((index for index in candidates if index is not None), everything)


async def paginate(
    redis: Redis,
    index: str,
    load: Callable[[Sequence[str]], Awaitable[Sequence[T | None]]],
    *,
    keep: Callable[[T], bool] | None = None,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = True,
    created_after_ms: int | None = None,
    created_before_ms: int | None = None,
) -> Page[T]:
    """One page of records from `index`; `load` fetches records by id (None for a vanished one)."""
    if not 1 <= limit <= 1_000:
        raise ValueError("limit must be between 1 and 1000")
    low = f"[{id_floor(created_after_ms)}" if created_after_ms is not None else "-"
    high = f"({id_floor(created_before_ms)}" if created_before_ms is not None else "+"
    items: list[T] = []
    scanned = 0
    batch = max(limit, 50)
    while scanned < MAX_SCAN:
        if cursor is not None:
            low, high = (low, f"({cursor}") if newest_first else (f"({cursor}", high)
        start, end = (high, low) if newest_first else (low, high)
        ids = await redis.zrange(index, start, end, desc=newest_first, bylex=True, offset=0, num=batch)
        for record_id, record in zip(ids, await load(ids), strict=True):
            cursor = record_id
            if record is not None and (keep is None or keep(record)):
                items.append(record)
                if len(items) == limit:
                    return Page(items=items, next_cursor=cursor)
        if len(ids) < batch:
            return Page(items=items, next_cursor=None)
        scanned += len(ids)
    return Page(items=items, next_cursor=cursor)
