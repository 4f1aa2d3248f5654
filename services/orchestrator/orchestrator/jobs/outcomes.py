"""What an attempt's end means for its job: done, failed for good, retried after a backoff, or dead."""

from dataclasses import dataclass

from redis.backoff import EqualJitterBackoff

from contracts.errors import ErrorCode
from orchestrator.errors import JobError, OrchErrorCode, OrchestratorError
from orchestrator.jobs.model import JobErrorInfo, JobStatus
from orchestrator.settings import Settings


@dataclass(frozen=True)
class Outcome:
    status: JobStatus
    error: JobErrorInfo | None = None
    retry_delay_ms: int = 0
    dead_reason: str = ""


SUCCEEDED = Outcome(JobStatus.succeeded)
CANCELLED = Outcome(JobStatus.cancelled)
RELEASED = Outcome(JobStatus.queued)  # a worker shutting down hands the job back
NO_HANDLER = Outcome(
    JobStatus.dead,
    JobErrorInfo(code=OrchErrorCode.no_handler, message="no handler for this job type"),
    dead_reason="no_handler",
)


def as_job_error(exc: Exception) -> JobError:
    """A handler's exception as a JobError; an unexpected one is retryable, since max_deliveries bounds it."""
    if isinstance(exc, JobError):
        return exc
    if isinstance(exc, OrchestratorError):
        return JobError(exc.code, exc.message, retryable=exc.retryable)
    # Its text may name hosts, paths or URLs, and job records are read by clients: the log has it.
    return JobError(
        ErrorCode.internal, f"unexpected {type(exc).__name__}; see the worker's log", retryable=True
    )


class RetryPolicy:
    """Exponential backoff with jitter, capped, for retryable errors only, up to max_deliveries attempts."""

    def __init__(self, settings: Settings):
        self._max_deliveries = settings.max_deliveries
        # Equal jitter: a delay in [d/2, d] for d = base * 2^(attempt-1), so each retry waits at least d/2.
        self._backoff = EqualJitterBackoff(cap=settings.retry_max_s, base=settings.retry_base_s)

    def outcome(self, exc: Exception, attempt: int) -> Outcome:
        error = as_job_error(exc)
        info = JobErrorInfo(
            code=error.code, message=error.message, retryable=error.retryable, poison=error.poison
        )
        if error.poison:
            return Outcome(JobStatus.dead, info, dead_reason="poison")
        if not error.retryable:
            return Outcome(JobStatus.failed, info)
        if attempt >= self._max_deliveries:
            return Outcome(JobStatus.dead, info, dead_reason="retries_exhausted")
        delay_ms = round(self._backoff.compute(attempt - 1) * 1000)
        return Outcome(JobStatus.retrying, info, retry_delay_ms=delay_ms)
