"""The catalog's change feed: what search may return, as a Redis stream that derived search state (each
API process's lexical index) follows, and a version per collection (the query cache's key).

Each change is queued, and its collection's version bumped, inside the very transaction that makes it, so
no commit, delete or metadata patch exists without its record. Versions are never reset, so a collection
made again under the same name never meets an older answer. The stream is trimmed to about STREAM_MAXLEN
entries; a follower that finds its place trimmed away rebuilds (`Head`). See docs/architecture.md#redis.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from orchestrator.catalog.model import Document, searchable
from orchestrator.core import keys

# About a day of changes at one per second; a follower offline longer rebuilds.
STREAM_MAXLEN = 100_000
ORIGIN = "0-0"  # before the first entry


class ChangeOp(StrEnum):
    commit = "commit"  # a document's searchable generation is now `generation` (an ingest or re-ingest)
    delete_document = "delete_document"  # the document is no longer searchable (being deleted, or removed)
    # What search returns of it changed but not its text (user metadata or filename); also written,
    # outside any transaction, once a patch's metadata is on the vectors that filters read.
    metadata = "metadata"
    delete_collection = "delete_collection"  # the collection is being deleted


@dataclass(frozen=True)
class Change:
    id: str  # the stream entry's id
    op: ChangeOp
    collection: str
    document_id: str | None = None
    generation: int | None = None  # commit: the generation now searchable
    chunk_count: int | None = None  # commit: its chunks, indexes 0 to chunk_count - 1

    @classmethod
    def from_entry(cls, entry_id: str, fields: dict[str, str]) -> "Change":
        return cls(
            id=entry_id,
            op=ChangeOp(fields["op"]),
            collection=fields["collection"],
            document_id=fields.get("document_id") or None,
            generation=int(fields["generation"]) if fields.get("generation") else None,
            chunk_count=int(fields["chunk_count"]) if fields.get("chunk_count") else None,
        )


def record(pipe: Pipeline, collection: str, op: ChangeOp, **fields: str | int) -> None:
    """Queues (after MULTI) the change's entry and its collection's version bump."""
    entry: dict[str, Any] = {
        "op": op.value,
        "collection": collection,
        **{k: str(v) for k, v in fields.items()},
    }
    pipe.xadd(keys.SEARCH_CHANGES, entry, maxlen=STREAM_MAXLEN, approximate=True)
    pipe.hincrby(keys.SEARCH_VERSIONS, collection, 1)


def _view(document: Document | None) -> tuple[Any, ...] | None:
    """What search returns of a document: None when it returns nothing of it."""
    if document is None or not searchable(document, document.generation):
        return None
    return (document.generation, document.chunk_count, document.filename, document.metadata)


def record_document_change(pipe: Pipeline, before: Document | None, after: Document | None) -> None:
    """Queues (after MULTI) the change that turns `before` into `after` (None: no record), if search
    sees one."""
    old, new = _view(before), _view(after)
    if old == new:
        return
    if after is not None and new is not None and (old is None or old[0] != new[0]):
        record(
            pipe,
            after.collection,
            ChangeOp.commit,
            document_id=after.id,
            generation=after.generation,
            chunk_count=after.chunk_count,
        )
    elif new is None:
        assert before is not None
        record(pipe, before.collection, ChangeOp.delete_document, document_id=before.id)
    else:
        assert after is not None
        record(pipe, after.collection, ChangeOp.metadata, document_id=after.id)


async def record_now(redis: Redis, collection: str, op: ChangeOp, **fields: str | int) -> None:
    """A change made outside the registry (vector metadata written), recorded on its own."""
    async with redis.pipeline(transaction=True) as pipe:
        record(pipe, collection, op, **fields)
        await pipe.execute()


async def read(redis: Redis, after: str, *, count: int, block_ms: int | None = None) -> list[Change]:
    """Up to `count` changes after the entry `after`, oldest first; with block_ms, waits that long for
    one when there are none."""
    reply = await redis.xread({keys.SEARCH_CHANGES: after}, count=count, block=block_ms)
    if not reply:
        return []
    entries = reply[0][1] if isinstance(reply, list) else next(iter(reply.values()))[0]
    return [Change.from_entry(entry_id, fields) for entry_id, fields in entries]


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def newer(a: str, b: str) -> bool:
    """Whether entry id `a` comes after `b`."""
    return _id(a) > _id(b)


@dataclass(frozen=True)
class Head:
    last_id: str  # the newest entry ever added (ORIGIN when none)
    # The newest entry removed by XDEL. Trimming (XTRIM, XADD MAXLEN) does not move it on Redis 7.0, so a
    # follower tells trimming from the counts below (search.lexical.follower).
    max_deleted_id: str
    entries_added: int | None  # ever, trimmed and deleted ones included (None: Redis before 7.0)
    length: int  # entries held now

    def missed(self, applied: str) -> bool:
        """What the head alone says of a follower that applied every entry up to `applied`: that it
        cannot catch up by reading on, because it never applied any, an entry after it was deleted, or
        the stream is older than what it applied (Redis lost its data, or this is another Redis)."""
        return applied == ORIGIN or newer(self.max_deleted_id, applied) or newer(applied, self.last_id)


async def head(redis: Redis) -> Head:
    try:
        info = await redis.xinfo_stream(keys.SEARCH_CHANGES)
    except ResponseError as exc:  # no stream yet: nothing ever changed
        if "no such key" not in str(exc).lower():
            raise
        return Head(ORIGIN, ORIGIN, 0, 0)
    added = info.get("entries-added")
    return Head(
        last_id=str(info["last-generated-id"]),
        max_deleted_id=str(info.get("max-deleted-entry-id") or ORIGIN),
        entries_added=int(added) if added is not None else None,
        length=int(info["length"]),
    )


async def newest_id(redis: Redis) -> str:
    """The newest change's id (ORIGIN when there is none)."""
    return _newest_id(await redis.xrevrange(keys.SEARCH_CHANGES, count=1))


def _newest_id(xrevrange_reply: list) -> str:
    return xrevrange_reply[0][0] if xrevrange_reply else ORIGIN


@dataclass(frozen=True)
class Snapshot:
    versions: dict[str, int]  # per collection asked for (0: never changed)
    last_id: str  # the newest change at the time, of any collection


async def snapshot(redis: Redis, collections: list[str]) -> Snapshot:
    """The collections' versions and the newest change, read together (one MULTI): a follower that has
    applied `last_id` has seen every change those versions count."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hmget(keys.SEARCH_VERSIONS, collections)
        pipe.xrevrange(keys.SEARCH_CHANGES, count=1)
        versions, newest = await pipe.execute()
    return Snapshot(
        versions={c: int(v or 0) for c, v in zip(collections, versions, strict=True)},
        last_id=_newest_id(newest),
    )
