"""Job progress for watchers: every update lands on the job record and on the job's own event stream.

Writers are handlers, through `JobContext.progress` (which calls `Leases.report`); the Lua scripts write
the status events, each with the status change it reports. Readers are Server-Sent Events streams, all
fed by one reader per process (`jobs.event_hub`), from the last event id each client saw until the job
reaches a final status.
"""

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from orchestrator.jobs.model import FINAL_JOB_STATUSES


class JobEvent(BaseModel):
    id: str  # the stream entry id; resume after it (SSE Last-Event-ID)
    type: str  # status | progress | cancel_requested
    data: dict[str, Any]

    @property
    def final(self) -> bool:
        return self.type == "status" and self.data.get("status") in FINAL_JOB_STATUSES

    @classmethod
    def from_entry(cls, entry_id: str, fields: Mapping[str, str]) -> "JobEvent":
        return cls(id=entry_id, type=fields["type"], data=json.loads(fields["data"]))

    def as_sse(self) -> str:
        """The event as one Server-Sent Events message."""
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data)}\n\n"
