"""The one state machine: which status changes are legal for jobs, documents and collections.

Python code checks with `check_*`; the Lua scripts that move jobs get the same job table rendered into
their header (`lua_job_table`), so there is a single definition of what a job may do.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from orchestrator.errors import IllegalTransition
from orchestrator.records import CollectionStatus, DocumentStatus, JobStatus

S = TypeVar("S", bound=StrEnum)

J = JobStatus
JOB_TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    J.queued: frozenset({J.running, J.cancelled}),
    # running -> running: its worker died and another one starts the next attempt.
    # running -> queued: released by a worker shutting down, attempt given back.
    J.running: frozenset({J.running, J.queued, J.retrying, J.succeeded, J.failed, J.cancelled, J.dead}),
    J.retrying: frozenset({J.running, J.cancelled}),
    J.succeeded: frozenset(),
    J.cancelled: frozenset(),
    # An operator may retry a failed job or replay a dead letter.
    J.failed: frozenset({J.queued}),
    J.dead: frozenset({J.queued}),
}

D = DocumentStatus
DOCUMENT_TRANSITIONS: Mapping[DocumentStatus, frozenset[DocumentStatus]] = {
    D.queued: frozenset({D.processing, D.failed, D.cancelled, D.deleting}),
    # processing -> processing: a reclaimed job starts over; -> queued: its job waits for a retry.
    D.processing: frozenset({D.processing, D.queued, D.ready, D.failed, D.cancelled, D.deleting}),
    D.ready: frozenset({D.queued, D.deleting}),  # queued again: a re-ingest
    D.failed: frozenset({D.queued, D.deleting}),
    D.cancelled: frozenset({D.queued, D.deleting}),
    D.deleting: frozenset(),
}

C = CollectionStatus
COLLECTION_TRANSITIONS: Mapping[CollectionStatus, frozenset[CollectionStatus]] = {
    C.active: frozenset({C.deleting}),
    C.deleting: frozenset(),
}


def _check(table: Mapping[S, frozenset[S]], kind: str, record_id: str, current: S, target: S) -> None:
    if target not in table[current]:
        raise IllegalTransition(kind, record_id, current, target)


def check_job(job_id: str, current: JobStatus, target: JobStatus) -> None:
    _check(JOB_TRANSITIONS, "job", job_id, current, target)


def check_document(document_id: str, current: DocumentStatus, target: DocumentStatus) -> None:
    _check(DOCUMENT_TRANSITIONS, "document", document_id, current, target)


def check_collection(name: str, current: CollectionStatus, target: CollectionStatus) -> None:
    _check(COLLECTION_TRANSITIONS, "collection", name, current, target)


def lua_job_table() -> str:
    """`JOB_NEXT[from][to] == true` for each legal job transition, as a Lua table constructor."""
    rows = []
    for current, targets in JOB_TRANSITIONS.items():
        inner = ", ".join(f"{t}=true" for t in sorted(targets))
        rows.append(f"{current}={{{inner}}}")
    return "local JOB_NEXT = {" + ", ".join(rows) + "}"
