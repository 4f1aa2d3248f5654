"""Keeps this process's lexical index current: a background task that follows the registry's change
stream (catalog.changes) and applies each change to the index, reading chunk texts from Chroma.

An index the stream no longer reaches is rebuilt, committed with the stream's last id noted before, so
changes made meanwhile replay after. One tantivy commit per batch: at most one per IDLE_COMMIT_S, or per
COMMIT_EVERY_S while a search waits (`wait_applied`). A failure backs off and retries the same batch (a
change is never skipped); every tantivy call runs in a thread. See
docs/architecture.md#search-the-lexical-index-and-the-query-cache.
"""

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.backoff import ExponentialBackoff

from orchestrator.catalog import Collection, Document, changes, searchable
from orchestrator.catalog.changes import ORIGIN, Change, ChangeOp, Head
from orchestrator.clients import Clients
from orchestrator.core import keys
from orchestrator.errors import VectorCollectionMissing
from orchestrator.search.lexical.index import IndexedChunk, IndexStats, LexicalIndex
from orchestrator.search.lexical.source import FETCH_PAGE, ChunkSource, Wanted

log = logging.getLogger("orchestrator.search.lexical")

BACKOFF = ExponentialBackoff(cap=5.0, base=0.2)
# Under a steady flow of changes, at most one commit this often: a tantivy commit (fsync, a new segment,
# a reader reload) costs ~12 ms and memory per segment, and one per change during an ingest of 5,183
# documents took 16 times the CPU of one per 20 and twice the memory. A search waiting for a change
# waits at most this long more for it.
COMMIT_EVERY_S = 0.2
# ... and while no search waits: an ingest of small documents committed 5 times a second, ~8 ms of the
# API's CPU per document (with the Chroma read of each document's chunks) for a freshness nobody asked.
IDLE_COMMIT_S = 1.0
STATS_TTL_S = 5.0  # index stats (a directory walk) are refreshed at most this often


@dataclass
class FollowerCounters:
    changes_applied: int = 0  # stream entries applied (each once per commit of the index)
    rebuilds: int = 0
    last_rebuild_s: float = 0.0  # how long the latest rebuild took
    failures: int = 0  # steps that failed and were retried
    searches_waited: int = 0  # searches that waited for a change not yet applied (wait_applied)
    waits_timed_out: int = 0  # ... and went on without it after their timeout


class LexicalFollower:
    def __init__(
        self,
        clients: Clients,
        index: LexicalIndex,
        *,
        stream_redis: Redis | None = None,
        batch: int = 256,
        block_ms: int = 1000,
    ):
        """`stream_redis`: the connection its blocking reads wait on (the API gives it one of its own, so
        that a wait never holds a connection of the shared pool); clients.redis when None."""
        if batch < 1 or block_ms < 1:
            raise ValueError("batch and block_ms must be positive")
        self.clients = clients
        self.source = ChunkSource(clients)
        self._stream_redis = stream_redis if stream_redis is not None else clients.redis
        self.index = index
        self.batch = batch
        self.block_ms = block_ms
        # The initial catch-up (replay or rebuild) is done, no rebuild runs, the last read drained the
        # backlog (an empty or partial batch) and the last step did not fail.
        self.caught_up = False
        self.applied_id = index.cursor  # the last change the committed index reflects
        self.counters = FollowerCounters()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # The stream's entries-added count when the cursor's entry was its newest (None: not known), to
        # tell whether entries after the cursor were trimmed once the cursor's own entry is gone.
        self._added_at_cursor: int | None = None
        self._built_empty = False  # rebuilt when the stream had no entry: the cursor stays ORIGIN
        self._stats: tuple[float, IndexStats] | None = None
        self._last_commit_s = 0.0  # time.monotonic() of the last commit of applied changes
        self._committed = asyncio.Event()  # set (and replaced) at each commit: wakes wait_applied
        self._backlog = False  # the last read was a full batch: more is waiting, read it without idling
        self._wanted_id = ORIGIN  # the newest change a search has waited for: until applied, commit soon
        self._wanted = asyncio.Event()  # set when a search starts waiting: wakes the pacing

    # --- lifecycle ---

    async def start(self) -> None:
        """Starts following in the background (returns at once; idempotent)."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="lexical-follower")

    async def stop(self) -> None:
        """Stops following; writes not yet committed are dropped (the next start replays them)."""
        task, self._task = self._task, None
        if task is not None:
            # The flag as well as the cancel: redis-py (8.1) sometimes swallows a cancel that lands as
            # a blocking XREAD returns (about 1 in 100 here); the loop then ends at its next turn.
            self._stopping = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def stats(self) -> IndexStats:
        """The index's stats, at most STATS_TTL_S old (for metrics)."""
        now = time.monotonic()
        if self._stats is None or now - self._stats[0] > STATS_TTL_S:
            self._stats = (now, self.index.stats())
        return self._stats[1]

    async def wait_applied(self, entry_id: str, timeout_s: float) -> bool:
        """Waits at most timeout_s for the committed index to reflect the change `entry_id`; whether it
        does. Returns at once when it already does."""
        if not changes.newer(entry_id, self.applied_id):
            return True
        self.counters.searches_waited += 1
        if changes.newer(entry_id, self._wanted_id):
            self._wanted_id = entry_id
        self._wanted.set()
        deadline = time.monotonic() + timeout_s
        while changes.newer(entry_id, self.applied_id):
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                self.counters.waits_timed_out += 1
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._committed.wait(), remaining_s)
        return True

    def _committed_up_to(self, entry_id: str) -> None:
        self.applied_id = entry_id
        committed, self._committed = self._committed, asyncio.Event()
        committed.set()

    # --- the loop ---

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                await self._step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.caught_up = False
                self.counters.failures += 1
                delay = BACKOFF.compute(failures)
                failures += 1
                log.warning(
                    "lexical index: following changes failed (%s: %s); retrying in %.1f s",
                    type(exc).__name__,
                    exc,
                    delay,
                    exc_info=failures == 1,
                )
                await asyncio.sleep(delay)

    async def _step(self) -> None:
        """Reads the next batch, then checks the stream's head: a head read after the batch tells whether
        anything between the cursor and the batch was trimmed before it was read."""
        redis = self._stream_redis
        if self.caught_up:  # changes arriving steadily wait for one commit together
            await self._pace(idle=not self._backlog)
        # Blocking waits for news only once caught up; until then an empty read is the news.
        block_ms = self.block_ms if self.caught_up else None
        batch = await changes.read(redis, self.applied_id, count=self.batch, block_ms=block_ms)
        self._backlog = len(batch) == self.batch
        stream = await changes.head(redis)
        if await self._must_rebuild(stream):
            await self._rebuild(stream)
        elif batch:
            await self._apply(batch)
            if batch[-1].id == stream.last_id:
                self._added_at_cursor = stream.entries_added
            if len(batch) < self.batch:  # the backlog is drained (a steady trickle of changes never
                self.caught_up = True  # leaves a read empty, yet is caught up)
        else:
            self.caught_up = True

    async def _pace(self, *, idle: bool) -> None:
        """Waits until COMMIT_EVERY_S after the last commit, then (`idle`: no backlog), while no search
        waits for a change not yet applied, until IDLE_COMMIT_S after it or until one starts waiting."""
        await asyncio.sleep(max(0.0, self._last_commit_s + COMMIT_EVERY_S - time.monotonic()))
        idle_left_s = self._last_commit_s + IDLE_COMMIT_S - time.monotonic()
        if idle and idle_left_s > 0 and not changes.newer(self._wanted_id, self.applied_id):
            self._wanted.clear()  # (no await since the check: a search cannot slip in between)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), idle_left_s)

    async def _must_rebuild(self, stream: Head) -> bool:
        """Whether the stream no longer holds every change after the cursor (Head.missed), counting
        trimming, which removes the oldest entries without moving max-deleted-entry-id (Redis 7.0)."""
        applied, head = self.applied_id, stream
        never_built = applied == ORIGIN and not self._built_empty
        if applied == head.last_id and not never_built:
            self._added_at_cursor = stream.entries_added
            return False
        if never_built:
            return True
        if applied != ORIGIN and head.missed(applied):
            return True
        if self._added_at_cursor is not None and stream.entries_added is not None:
            if stream.entries_added < self._added_at_cursor:
                return True  # fewer ever added than when it was at its cursor: Redis went back in time
            # Entries go oldest first, so while any after the cursor is missing the cursor's is too: then
            # the stream holds fewer than were added since.
            return stream.length < stream.entries_added - self._added_at_cursor
        # Not known: the entries after the cursor are all there while the cursor's own is.
        return not await self._stream_redis.xrange(keys.SEARCH_CHANGES, min=applied, max=applied, count=1)

    # --- applying changes ---

    async def _apply(self, batch: Sequence[Change]) -> None:
        """Applies the changes in order, a run of them holding about FETCH_PAGE chunks at a time (so that
        a burst of big documents is never in memory at once), then commits them with the last one's id."""
        committed = list(
            dict.fromkeys(c.document_id for c in batch if c.op is ChangeOp.commit and c.document_id)
        )
        documents = await self.clients.registry.get_documents(committed) if committed else {}
        last = batch[-1].id
        runs = _runs(batch, documents)
        for i, run in enumerate(runs):
            chunks = await self._committed_chunks(run, documents)
            operations = [op for change in run if (op := _operation(change, chunks)) is not None]
            await asyncio.to_thread(self._write, operations, last if i == len(runs) - 1 else None)
        self._last_commit_s = time.monotonic()
        self._committed_up_to(last)
        self.counters.changes_applied += len(batch)

    def _write(self, operations: list[Callable[[LexicalIndex], None]], cursor: str | None) -> None:
        for operation in operations:
            operation(self.index)
        if cursor is not None:
            self.index.commit(cursor)

    async def _committed_chunks(
        self, batch: Sequence[Change], documents: dict[str, Document | None]
    ) -> dict[tuple[str, int], list[IndexedChunk]]:
        """The chunks of each commit in the batch that is still to be indexed, by (document, generation):
        one Chroma read per collection. A commit is left out when its document, its generation or its
        collection moved on since (the registry is at least as new as the change; a later change in the
        stream says what came next), or its vectors are gone."""
        wanted: dict[str, dict[str, Wanted]] = defaultdict(dict)  # collection -> document -> what to read
        for change in batch:
            document = documents.get(change.document_id or "")
            if change.op is not ChangeOp.commit or change.generation is None:
                continue
            if document is None or not searchable(document, change.generation):
                continue
            count = change.chunk_count if change.chunk_count is not None else document.chunk_count
            wanted[change.collection][document.id] = Wanted(document.id, change.generation, count)
        found: dict[tuple[str, int], list[IndexedChunk]] = {}
        for name, by_document in wanted.items():
            collection = await self.source.active_collection(name)
            if collection is None:
                continue
            try:
                chunks = await self.source.fetch_chunks(collection.vector_name, list(by_document.values()))
            except VectorCollectionMissing:
                continue
            for document_id, want in by_document.items():
                found[(document_id, want.generation)] = chunks.get(document_id, [])
        return found

    # --- rebuilding ---

    async def _rebuild(self, stream: Head) -> None:
        """The index again from the registry and Chroma, committed with the cursor `head.last_id` (noted
        before anything was read)."""
        head = stream
        started = time.monotonic()
        log.info(
            "lexical index %s: rebuilding (its cursor %s; stream head %s)",
            self.index.path,
            self.applied_id,
            head,
        )
        self.caught_up = False  # a rebuild while serving: not ready, lexical searches 503, until it ends
        await asyncio.to_thread(self.index.clear)
        documents = 0
        async for collection in self.source.active_collections():
            documents += await self._rebuild_collection(collection)
        await asyncio.to_thread(self.index.commit, head.last_id)
        self._last_commit_s = time.monotonic()
        self._committed_up_to(head.last_id)
        self._added_at_cursor = stream.entries_added
        self._built_empty = head.last_id == ORIGIN
        self.counters.rebuilds += 1
        self.counters.last_rebuild_s = time.monotonic() - started
        log.info(
            "lexical index %s: rebuilt with %d documents in %.1f s",
            self.index.path,
            documents,
            self.counters.last_rebuild_s,
        )

    async def _rebuild_collection(self, collection: Collection) -> int:
        """Indexes the collection's searchable documents, fetching chunks for several at once; returns
        how many."""
        group: list[Document] = []
        indexed = 0
        async for document in self.source.searchable_documents(collection.name):
            group.append(document)
            if sum(d.chunk_count for d in group) >= FETCH_PAGE:
                indexed += await self._index_group(collection, group)
                group = []
        if group:
            indexed += await self._index_group(collection, group)
        return indexed

    async def _index_group(self, collection: Collection, documents: list[Document]) -> int:
        wanted = [Wanted(d.id, d.generation, d.chunk_count) for d in documents]
        try:
            found = await self.source.fetch_chunks(collection.vector_name, wanted)
        except VectorCollectionMissing:
            log.warning("lexical index: collection %s has no vectors in Chroma; skipped", collection.name)
            return 0
        for document in documents:
            chunks = found.get(document.id, [])
            await asyncio.to_thread(
                self.index.replace_document, collection.name, document.id, document.generation, chunks
            )
        return len(documents)


def _operation(
    change: Change, chunks: dict[tuple[str, int], list[IndexedChunk]]
) -> Callable[[LexicalIndex], None] | None:
    """What one change does to the index, given the batch's committed chunks (None: nothing)."""
    if change.op is ChangeOp.delete_collection:
        return lambda index: index.delete_collection(change.collection)
    document_id = change.document_id
    if document_id is None or change.op is ChangeOp.metadata:
        return None  # metadata: what the index holds (text, headings, pages) did not change
    if change.op is ChangeOp.delete_document:
        return lambda index: index.delete_document(document_id)
    found = chunks.get((document_id, change.generation or 0))
    if found is None:  # nothing to index for this commit: whatever the index holds of the document goes
        return lambda index: index.delete_document(document_id)
    generation = change.generation or 0
    return lambda index: index.replace_document(change.collection, document_id, generation, found)


def _runs(batch: Sequence[Change], documents: dict[str, Document | None]) -> list[list[Change]]:
    """The batch cut, in order, into runs whose commits hold about FETCH_PAGE chunks (a run holds one
    change at least)."""
    runs: list[list[Change]] = [[]]
    held = 0
    for change in batch:
        document = documents.get(change.document_id or "")
        size = 0
        if change.op is ChangeOp.commit and document is not None:
            size = change.chunk_count if change.chunk_count is not None else document.chunk_count
        if runs[-1] and held + size > FETCH_PAGE:
            runs.append([])
            held = 0
        runs[-1].append(change)
        held += size
    return runs
