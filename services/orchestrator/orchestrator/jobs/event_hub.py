"""One reader of job events per API process, for every Server-Sent Events stream it serves.

One task reads all watched jobs' event streams with one blocking XREAD on a connection of its own (a
stream blocking in its own XREAD would hold a pooled connection while its client stays) and hands each
entry to its job's subscriptions. At most `max_streams` per process and `max_per_owner` per API key
(StreamsFull, 429). A subscription ends after its job's final event, when its job is found over or gone,
or when its client falls too far behind (it resumes from its Last-Event-ID).
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.core.ids import stream_id_key
from orchestrator.core.redis_client import TRANSIENT_ERRORS
from orchestrator.errors import OrchErrorCode, OrchestratorError
from orchestrator.jobs.events import JobEvent
from orchestrator.jobs.model import FINAL_JOB_STATUSES

log = logging.getLogger(__name__)

MAX_BACKLOG = 1_000  # events waiting for one slow client before its stream is ended (it may resume)
READ_COUNT = 100  # entries per stream per XREAD
_END = None  # the sentinel that ends a subscription


class StreamsFull(OrchestratorError):
    code = OrchErrorCode.too_many_streams
    retryable = True

    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message, details={"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class Subscription:
    """One client's stream of one job's events, fed by the hub."""

    def __init__(self, hub: "EventHub", job_id: str, owner: str, after: str):
        self.job_id, self.owner, self.after = job_id, owner, after
        self._hub = hub
        self._queue: asyncio.Queue[JobEvent | None] = asyncio.Queue()
        self.ended = False

    def offer(self, event: JobEvent) -> None:
        if self.ended or stream_id_key(event.id) <= stream_id_key(self.after):
            return
        self.after = event.id
        self._queue.put_nowait(event)
        if event.final or self._queue.qsize() > MAX_BACKLOG:
            self.end()

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self._queue.put_nowait(_END)
            self._hub.unsubscribe(self)

    def close(self) -> None:
        """The client is gone (or the response is over): frees the slot. Idempotent."""
        self.ended = True
        self._hub.unsubscribe(self)

    async def events(self, heartbeat_s: float) -> AsyncIterator[JobEvent | None]:
        """The job's events in order, and None after each quiet `heartbeat_s` (for a keep-alive)."""
        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), heartbeat_s)
            except TimeoutError:
                yield None
                continue
            if item is _END:
                return
            yield item


class EventHub:
    def __init__(
        self,
        reader: Redis,
        *,
        max_streams: int,
        max_per_owner: int,
        block_s: float = 1.0,
        check_s: float = 2.0,
    ):
        self._reader = reader  # a client of its own: its blocking reads hold no connection others need
        self._max_streams, self._max_per_owner = max_streams, max_per_owner
        self._block_ms = max(1, round(block_s * 1000))
        self._check_s = check_s
        self._by_job: dict[str, set[Subscription]] = {}
        self._per_owner: Counter[str] = Counter()
        self._count = 0
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def open_streams(self) -> int:
        return self._count

    def subscribe(self, job_id: str, owner: str, after: str = "0-0") -> Subscription:
        """A slot for one stream, or StreamsFull. The caller must `close()` it when its response ends."""
        if self._count >= self._max_streams:
            raise StreamsFull(f"this server already serves {self._count} event streams", retry_after_s=5)
        if self._per_owner[owner] >= self._max_per_owner:
            raise StreamsFull(
                f"at most {self._max_per_owner} event streams at once per API key", retry_after_s=5
            )
        subscription = Subscription(self, job_id, owner, after)
        self._by_job.setdefault(job_id, set()).add(subscription)
        self._per_owner[owner] += 1
        self._count += 1
        self._wanted.set()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subs = self._by_job.get(subscription.job_id)
        if subs is None or subscription not in subs:
            return
        subs.discard(subscription)
        if not subs:
            del self._by_job[subscription.job_id]
        self._per_owner[subscription.owner] -= 1
        if self._per_owner[subscription.owner] <= 0:
            del self._per_owner[subscription.owner]
        self._count -= 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        """Ends every stream (their clients may reconnect elsewhere) and the reader."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for subs in list(self._by_job.values()):
            for subscription in list(subs):
                subscription.end()
        await self._reader.aclose()

    async def _run(self) -> None:
        next_check = 0.0
        failures = 0
        while True:
            if not self._by_job:
                self._wanted.clear()
                await self._wanted.wait()
                continue
            try:
                reply = await self._read(block=True)
                self._dispatch(reply)
                if not reply or time.monotonic() >= next_check:
                    await self._end_finished()
                    next_check = time.monotonic() + self._check_s
                failures = 0
            except TRANSIENT_ERRORS as exc:
                failures += 1
                log.warning("event hub: Redis unavailable (%s); streams wait", exc)
                await asyncio.sleep(min(5.0, 0.1 * 2**failures))
            except Exception:
                failures += 1
                log.exception("event hub: unexpected error")
                await asyncio.sleep(min(5.0, 0.1 * 2**failures))

    def _streams(self, job_ids: list[str]) -> dict[str, str]:
        return {
            keys.job_events(job_id): min(
                (s.after for s in self._by_job.get(job_id, ())), key=stream_id_key, default="0-0"
            )
            for job_id in job_ids
        }

    async def _read(self, *, block: bool, job_ids: list[str] | None = None) -> list:
        streams = self._streams(job_ids if job_ids is not None else list(self._by_job))
        if not streams:
            return []
        return await self._reader.xread(streams, count=READ_COUNT, block=self._block_ms if block else None)

    def _dispatch(self, reply: list) -> None:
        prefix, suffix = keys.job_events("\0").split("\0")
        for stream, rows in reply or []:
            job_id = stream.removeprefix(prefix).removesuffix(suffix)
            for entry_id, fields in rows:
                event = JobEvent.from_entry(entry_id, fields)
                for subscription in list(self._by_job.get(job_id, ())):
                    subscription.offer(event)

    async def _end_finished(self) -> None:
        """Ends the streams of jobs that are over or gone, after one last read of what they left."""
        job_ids = list(self._by_job)
        async with self._reader.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hget(keys.job(job_id), "status")
            statuses = await pipe.execute()
        over = [
            j for j, status in zip(job_ids, statuses, strict=True) if status in (None, *FINAL_JOB_STATUSES)
        ]
        if not over:
            return
        # Whatever is still unread: the final event is written with the status, so it is there unless expired.
        while reply := await self._read(block=False, job_ids=[j for j in over if j in self._by_job]):
            self._dispatch(reply)
            if all(len(rows) < READ_COUNT for _, rows in reply):
                break
        for job_id in over:
            for subscription in list(self._by_job.get(job_id, ())):
                subscription.end()
