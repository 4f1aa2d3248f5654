"""The job queue: Redis streams per priority, leases, retries with backoff, dead letters, worker pools.

It knows nothing of documents, collections or vectors: a job is a type, a payload and a status, and what
a job does is its handler's business (`orchestrator.ingest` supplies them).
"""

from orchestrator.jobs.context import JobContext
from orchestrator.jobs.event_hub import EventHub, StreamsFull, Subscription
from orchestrator.jobs.events import JobEvent
from orchestrator.jobs.handlers import Handler, HandlerFactory, Handlers, load_factory
from orchestrator.jobs.job_queue import DeadLetter, Enqueued, JobQueue, QueueStats
from orchestrator.jobs.leases import Lease, Leases, LeaseState
from orchestrator.jobs.metrics import PoolCollector
from orchestrator.jobs.model import (
    FINAL_JOB_STATUSES,
    PRIORITIES,
    Job,
    JobErrorInfo,
    JobStatus,
    JobType,
    Priority,
    Progress,
    WorkerInfo,
)
from orchestrator.jobs.outcomes import as_job_error
from orchestrator.jobs.worker import WorkerPool

__all__ = [
    "FINAL_JOB_STATUSES",
    "PRIORITIES",
    "DeadLetter",
    "Enqueued",
    "EventHub",
    "Handler",
    "HandlerFactory",
    "Handlers",
    "Job",
    "JobContext",
    "JobErrorInfo",
    "JobEvent",
    "JobQueue",
    "JobStatus",
    "JobType",
    "Lease",
    "LeaseState",
    "Leases",
    "PoolCollector",
    "Priority",
    "Progress",
    "QueueStats",
    "StreamsFull",
    "Subscription",
    "WorkerInfo",
    "WorkerPool",
    "as_job_error",
    "load_factory",
]
