"""What a handler gets besides its job: progress reporting and the cancel/lease checks between steps."""

from orchestrator.errors import JobCancelled, LeaseLost
from orchestrator.jobs.leases import Lease, Leases, LeaseState
from orchestrator.jobs.model import Job, Progress


class JobContext:
    def __init__(self, job: Job, lease: Lease, leases: Leases):
        self.job = job
        self.lease = lease
        self._leases = leases
        self.cancel_seen = False
        self.lease_lost = False

    @property
    def attempt(self) -> int:
        return self.lease.attempt

    def note(self, state: LeaseState) -> None:
        """Takes in what a heartbeat learnt about the lease."""
        if state is LeaseState.lost:
            self.lease_lost = True

    # A report answers what check_cancelled asks, in the same round trip (progress.lua reads the lease and
    # the cancel flag), so it raises as check_cancelled does: a small document's ingest made ~30 round
    # trips to Redis, and a check right after a report was a third of them.

    async def stage(self, name: str) -> None:
        """Records the step the job is at; raises as check_cancelled does."""
        self._raise_if_stopped(await self._leases.report(self.lease, stage=name))

    async def progress(self, done: int, total: int | None, unit: str, *, stage: str | None = None) -> None:
        """Records how far the job is; raises as check_cancelled does."""
        update = Progress(done=done, total=total, unit=unit)
        self._raise_if_stopped(await self._leases.report(self.lease, stage=stage, progress=update))

    async def check_cancelled(self) -> None:
        """Call between steps: raises JobCancelled if the job was cancelled, LeaseLost if it moved on."""
        if self.lease_lost:
            raise LeaseLost(self.lease.job_id)
        self._raise_if_stopped(await self._leases.state(self.lease))

    def _raise_if_stopped(self, state: LeaseState) -> None:
        if state is LeaseState.lost:
            self.lease_lost = True
            raise LeaseLost(self.lease.job_id)
        if state is LeaseState.cancel_requested:
            self.cancel_seen = True
            raise JobCancelled(self.lease.job_id)
