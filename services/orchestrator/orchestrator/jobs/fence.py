"""What holding a job's lease means, in Python: the job is `running`, on this worker, at this attempt's
fence. common.lua's holds() is the same rule for the queue's scripts; Leases.state and every write fenced
through core.fencing use this one.

The fence is a job field that claim.lua increments on every claim and nothing else writes (requeue,
release at shutdown and replay leave it alone), so no two attempts of a job ever share one. `attempts` is
a delivery budget that requeue resets and a release gives back, which is why it cannot fence.
"""

from dataclasses import dataclass
from typing import ClassVar

from orchestrator.jobs.model import JobStatus


@dataclass(frozen=True)
class LeaseFence:
    """A core.fencing.Fence over the job's hash: a transaction WATCHes `key` and passes `fields`' values."""

    FIELDS: ClassVar[tuple[str, str, str]] = ("status", "worker", "fence")

    key: str  # the job's hash (core.keys.job)
    worker: str
    fence: int

    @property
    def fields(self) -> tuple[str, ...]:
        return self.FIELDS

    def holds(self, values: list[str | None]) -> bool:
        status, worker, fence = values
        # A job written by older code has no fence field: it counts as 0, as in common.lua.
        return status == JobStatus.running and worker == self.worker and (fence or "0") == str(self.fence)
