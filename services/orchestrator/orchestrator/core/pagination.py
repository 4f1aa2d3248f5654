"""Keyset pagination over the lexical indexes (sorted sets whose members all score 0), and the Page
every listing returns.

Ids sort by creation time (`ids.new_id`), so an index read by lexical range is a listing by time and the
cursor is the last id returned, stable while records come and go. Other listings page a stream (an entry
id) or a sequence (an offset). A cursor is the client's to hand back, so each is checked here before it
reaches Redis or Chroma: a bad one is InvalidCursor (422), never a server error.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from pydantic import BaseModel
from redis.asyncio import Redis

from contracts.errors import ErrorCode
from orchestrator.core.ids import id_floor, is_record_id, is_stream_id
from orchestrator.errors import OrchestratorError

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass next_cursor back for the next (None: the last page)."""

    items: list[T]
    next_cursor: str | None = None


# A filtered listing reads at most this many ids per page, then hands back a cursor to go on from.
MAX_SCAN = 2_000
MAX_OFFSET = 10**9  # far past any listing; an offset cursor beyond it is not one we handed out


class InvalidCursor(OrchestratorError):
    code = ErrorCode.invalid_request

    def __init__(self, cursor: str):
        super().__init__(f"cursor {cursor[:40]!r} is not a cursor this listing handed out")


def key_cursor(cursor: str | None) -> str | None:
    """The id (or name) a keyset listing resumes after; None (or empty) starts from the beginning."""
    if not cursor:
        return None
    if not is_record_id(cursor):
        raise InvalidCursor(cursor)
    return cursor


def stream_cursor(cursor: str | None) -> str | None:
    """The stream entry id a stream listing resumes after."""
    if not cursor:
        return None
    if not is_stream_id(cursor):
        raise InvalidCursor(cursor)
    return cursor


def offset_cursor(cursor: str | None) -> int:
    """The position an ordered listing resumes at (0 without a cursor)."""
    if not cursor:
        return 0
    # isdigit alone takes '²' and other digits int() refuses; only ASCII decimal is ours.
    if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_OFFSET:
        raise InvalidCursor(cursor)
    return int(cursor)


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
    cursor = key_cursor(cursor)
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
