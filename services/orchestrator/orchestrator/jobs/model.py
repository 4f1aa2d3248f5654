"""The job queue's records: priorities, job types and statuses, a job, a worker's presence."""

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from orchestrator.core.redis_hashes import RedisRecord


class Priority(StrEnum):
    high = "high"
    normal = "normal"
    low = "low"


# The order in which workers read the priority streams.
PRIORITIES: tuple[Priority, ...] = (Priority.high, Priority.normal, Priority.low)


class JobType(StrEnum):
    ingest = "ingest"
    reingest = "reingest"
    delete_document = "delete_document"
    delete_collection = "delete_collection"
    reconcile = "reconcile"


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    retrying = "retrying"  # waiting out its backoff before the next attempt
    succeeded = "succeeded"
    failed = "failed"  # a permanent error: retrying would give the same answer
    cancelled = "cancelled"
    dead = "dead"  # in the dead-letter stream: poison, retries exhausted, or its workers kept dying


FINAL_JOB_STATUSES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled, JobStatus.dead})


class Progress(BaseModel):
    done: int = Field(ge=0)
    total: int | None = Field(None, ge=0)
    unit: str


class JobErrorInfo(BaseModel):
    code: str
    message: str
    retryable: bool = False
    poison: bool = False


class Job(RedisRecord):
    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset({"payload", "progress", "error"})

    id: str
    type: JobType
    status: JobStatus
    priority: Priority = Priority.normal
    payload: dict[str, Any] = Field(default_factory=dict)
    collection: str | None = None
    document_id: str | None = None
    idempotency_key: str | None = None
    stage: str | None = None
    progress: Progress | None = None
    attempts: int = 0  # handler starts so far; a graceful release gives its attempt back
    fence: int = 0  # +1 on every claim, never reset or given back: fences each attempt (jobs/fence.py)
    error: JobErrorInfo | None = None
    dead_reason: str | None = None
    dead_entry_id: str | None = None  # its entry in the dead-letter stream
    worker: str | None = None  # the worker that holds (or last held) the lease
    cancel_requested: bool = False
    entry_id: str | None = None  # its current entry in a priority stream
    created_at_ms: int | None = None
    updated_at_ms: int | None = None
    started_at_ms: int | None = None  # start of the latest attempt
    run_at_ms: int | None = None  # when a retrying job becomes due
    finished_at_ms: int | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES


class WorkerInfo(RedisRecord):
    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset({"in_flight", "counters"})

    id: str
    host: str
    pid: int
    concurrency: int
    started_at_ms: int
    last_beat_at_ms: int
    in_flight: list[str] = Field(default_factory=list)
    counters: dict[str, int] = Field(default_factory=dict)
