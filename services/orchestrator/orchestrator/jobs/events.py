"""Job progress for watchers: every update lands on the job record and on the job's own event stream.

Writers are handlers, through `JobContext.progress` (which calls `Leases.report`). Readers, such as an SSE
endpoint, call `follow` with the last event id they saw and get each later event, in order, until the job
reaches a final status.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs.model import FINAL_JOB_STATUSES


class JobEvent(BaseModel):
    id: str  # the stream entry id; resume after it (SSE Last-Event-ID)
    type: str  # status | progress | cancel_requested
    data: dict[str, Any]

    @property
    def final(self) -> bool:
        return self.type == "status" and self.data.get("status") in FINAL_JOB_STATUSES


async def follow(
    redis: Redis, job_id: str, *, after: str = "0-0", block_s: float = 1.0
) -> AsyncIterator[JobEvent]:
    """The job's events after `after`, waiting for new ones, until a final status event. It also stops
    when a quiet wait finds the job gone or over (its final event may have expired, or been read)."""
    stream = keys.job_events(job_id)
    while True:
        reply = await redis.xread({stream: after}, count=100, block=max(1, round(block_s * 1000)))
        if not reply:
            status = await redis.hget(keys.job(job_id), "status")
            if status is None or status in FINAL_JOB_STATUSES:
                reply = await redis.xread({stream: after}, count=100)  # it may have ended just now
                if not reply:
                    return
        for _, rows in reply:
            for entry_id, fields in rows:
                after = entry_id
                event = JobEvent(id=entry_id, type=fields["type"], data=json.loads(fields["data"]))
                yield event
                if event.final:
                    return
