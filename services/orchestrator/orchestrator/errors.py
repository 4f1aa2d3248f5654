"""Errors the orchestrator raises, each with a stable code and whether retrying can help.

Codes come from `contracts.errors.ErrorCode` where one fits; `OrchErrorCode` adds the queue's own.
"""

from enum import StrEnum
from typing import Any

from contracts.errors import ErrorCode


class OrchErrorCode(StrEnum):
    duplicate = "duplicate"  # an upload whose bytes are already a document of the collection
    illegal_transition = "illegal_transition"
    no_handler = "no_handler"
    worker_lost = (
        "worker_lost"  # delivered max_deliveries times and never finished: it kills or stalls workers
    )
    # Dependencies (orchestrator.compute_client, orchestrator.vectors).
    compute_unavailable = "compute_unavailable"  # every attempt on every replica failed: retry later
    vector_store_unavailable = "vector_store_unavailable"  # Chroma is down or timed out: retry later
    collection_missing = "collection_missing"  # the Chroma collection is gone (deleted under a job)
    # Hostile or unlucky clients.
    idempotency_key_reused = "idempotency_key_reused"  # the same Idempotency-Key with another request (409)
    original_not_kept = (
        "original_not_kept"  # re-ingest asked after ORCH_KEEP_ORIGINALS=false dropped it (409)
    )
    invalid_metadata = "invalid_metadata"  # metadata the vector store would refuse, or too much of it (422)
    invalid_filter = "invalid_filter"  # a search filter too deep or too wide, or malformed (422)
    too_many_collections = "too_many_collections"  # the deployment's ORCH_MAX_COLLECTIONS is reached (409)
    reconcile_running = "reconcile_running"  # another reconcile round runs somewhere: wait for it (409)
    too_many_streams = "too_many_streams"  # event streams over the per-key or process budget (429)
    blob_store_unavailable = "blob_store_unavailable"  # the originals' store failed: retry later (503)
    # A document's ingest job.
    job_lost = "job_lost"  # its job ended without finishing it, or was never queued
    queue_unavailable = "queue_unavailable"  # its job could not be queued (the document is failed)
    # Search and the console.
    console_not_built = "console_not_built"  # /console asked of a server whose console was never built (404)
    index_not_ready = "index_not_ready"  # this API's lexical index is still catching up: retry (503)


Code = ErrorCode | OrchErrorCode


class OrchestratorError(Exception):
    code: Code = ErrorCode.internal
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: Code | None = None,
        retryable: bool | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.details = details or {}  # more for the client, such as the id of the document it collided with
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable


class NotFound(OrchestratorError):
    code: Code = ErrorCode.not_found


class Conflict(OrchestratorError):
    code: Code = ErrorCode.conflict


class IllegalTransition(Conflict):
    code: Code = OrchErrorCode.illegal_transition

    def __init__(self, kind: str, record_id: str, current: str, target: str):
        super().__init__(f"{kind} {record_id}: {current} -> {target} is not allowed")
        self.kind, self.record_id, self.current, self.target = kind, record_id, current, target


class JobError(OrchestratorError):
    """Raised by a handler to say how its attempt failed.

    retryable: a later attempt may succeed (backoff, then retry until max_deliveries).
    poison: the job must not run again (it crashed its process, say): it goes straight to the dead letters.
    Neither: a permanent failure; the job ends `failed`.
    """

    def __init__(self, code: Code, message: str, *, retryable: bool = False, poison: bool = False):
        super().__init__(message, code=code, retryable=retryable and not poison)
        self.poison = poison


class JobCancelled(Exception):
    """Raised in a handler (by `JobContext.check_cancelled`) when its job was cancelled; let it propagate."""


class LeaseLost(Exception):
    """Raised inside a handler when another worker took its job over (this worker stalled past its lease)."""


# --- dependencies: the compute service and the Chroma server ---


class ComputeRejected(JobError):
    """Compute refused the request (a 4xx other than 429, or a non-retryable 5xx): permanent.
    `code` is compute's own code from its envelope (`corrupt_document`, `encrypted_document`, ...)."""

    def __init__(self, code: Code, message: str, status: int, *, attempts: int = 1, request_id: str = ""):
        super().__init__(code, message, retryable=False)
        self.status, self.attempts, self.request_id = status, attempts, request_id


class ComputeUnavailable(JobError):
    """Every attempt failed with a connect error, a timeout, 429, 502, 503 or 504, or one attempt met a
    failure left to later (a 503 `worker_lost`): retryable later, by the job queue."""

    def __init__(self, message: str, attempts: int, *, request_id: str = "", last_status: int | None = None):
        super().__init__(OrchErrorCode.compute_unavailable, message, retryable=True)
        self.attempts, self.request_id, self.last_status = attempts, request_id, last_status


class IndexNotReady(OrchestratorError):
    """A lexical or hybrid search while this process's lexical index has not caught up with the registry
    (rebuilding after a start, or its sources failing): retryable, and dense search still answers."""

    code: Code = OrchErrorCode.index_not_ready
    retryable = True


class VectorStoreError(JobError):
    """Base of the vector store's errors (orchestrator.vectors)."""


class VectorStoreUnavailable(VectorStoreError):
    """Chroma is unreachable or did not answer in time: retryable."""

    def __init__(self, message: str):
        super().__init__(OrchErrorCode.vector_store_unavailable, message, retryable=True)


class VectorCollectionMissing(VectorStoreError):
    """The Chroma collection does not exist (reads and writes never create it): permanent."""

    def __init__(self, name: str):
        super().__init__(OrchErrorCode.collection_missing, f"vector collection {name!r} does not exist")
        self.name = name


class VectorConflict(VectorStoreError):
    """create_collection on a name that exists."""

    def __init__(self, name: str):
        super().__init__(ErrorCode.conflict, f"vector collection {name!r} already exists")
        self.name = name


class VectorRejected(VectorStoreError):
    """Chroma refused the data (a wrong dimension, a bad metadata value or filter): permanent."""

    def __init__(self, message: str):
        super().__init__(ErrorCode.invalid_request, message)
