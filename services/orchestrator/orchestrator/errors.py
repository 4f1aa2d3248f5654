"""Errors the orchestrator raises, each with a stable code and whether retrying can help.

Codes come from `contracts.errors.ErrorCode` where one fits; `OrchErrorCode` adds the queue's own.
"""

from enum import StrEnum

from contracts.errors import ErrorCode


class OrchErrorCode(StrEnum):
    illegal_transition = "illegal_transition"
    no_handler = "no_handler"
    worker_lost = (
        "worker_lost"  # delivered max_deliveries times and never finished: it kills or stalls workers
    )


Code = ErrorCode | OrchErrorCode


class OrchestratorError(Exception):
    code: Code = ErrorCode.internal
    retryable: bool = False

    def __init__(self, message: str, *, code: Code | None = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
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
