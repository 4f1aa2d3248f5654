"""A fence: what a write made on behalf of a job attempt checks, inside the same Redis transaction, so that
an attempt that lost its lease (stalled past it, or a replay took the job over) can no longer change a
record. The queue makes them (jobs.leases.Lease.fence_guard); the catalog checks them (catalog.generations)
without knowing what a job is."""

from typing import Protocol


class Fence(Protocol):
    key: str  # the Redis hash the transaction WATCHes and reads

    @property
    def fields(self) -> tuple[str, ...]: ...  # the hash fields `holds` reads

    def holds(self, values: list[str | None]) -> bool: ...  # the fields' current values, in order
