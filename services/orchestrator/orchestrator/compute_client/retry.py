"""The compute client's retry policy: which failures another attempt can fix, how long to wait before
it, what a permanent rejection carries, and the record of one call's attempts."""

import contextvars
import email.utils
import time
from dataclasses import dataclass, field

import httpx

from contracts import ErrorCode
from orchestrator.errors import ComputeRejected

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Retryable, but not within the call: a parse worker killed from outside (most often the kernel's OOM
# killer) would likely be killed again by an immediate retry, on every replica in turn. The job queue
# retries it later, with its backoff and attempt limit, and a PDF resumes after its last kept window.
LATER_ONLY_CODES = frozenset({ErrorCode.worker_lost})
# Connection failures and timeouts: the replica, not the request, is at fault.
RETRY_EXCEPTIONS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# The code to report when an error answer carries no envelope (a proxy's page, say).
STATUS_CODES = {
    401: ErrorCode.unauthorized,
    403: ErrorCode.unauthorized,
    404: ErrorCode.not_found,
    409: ErrorCode.conflict,
    413: ErrorCode.too_large,
    415: ErrorCode.unsupported_format,
}


@dataclass
class CallStats:
    """One logical call: every attempt it took, on which replica, with what outcome."""

    path: str
    request_id: str
    attempts: int = 0
    replicas: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)  # "200", "503", "ConnectError", ...
    waits_s: list[float] = field(default_factory=list)  # backoff before each retry
    status: int | None = None  # the final HTTP status, if any answer came


last_call_var: contextvars.ContextVar[CallStats | None] = contextvars.ContextVar(
    "compute_last_call", default=None
)


class RetryableFailure(Exception):
    """The message names the replica (for the log); `summary` (an exception's type name, or a status and
    compute's code) is what a client may see."""

    def __init__(
        self,
        message: str,
        *,
        summary: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
        retry_now: bool = True,
    ):
        super().__init__(message)
        self.summary = summary or "failed"
        self.status, self.retry_after_s, self.retry_now = status, retry_after_s, retry_now


def retry_now(exc: BaseException) -> bool:
    """The client's retry predicate: a retryable failure that another attempt right away may fix."""
    return isinstance(exc, RetryableFailure) and exc.retry_now


def envelope_code(response: httpx.Response) -> tuple[ErrorCode | None, str | None]:
    """Compute's code and message from an error answer's envelope. Either is None when missing; the code
    also when this orchestrator does not know it (a newer compute mid-deploy), the message still kept."""
    try:
        body = response.json()["error"]
        message = str(body.get("message") or "") or None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, None
    try:
        return ErrorCode(body.get("code")), message
    except ValueError:
        return None, message


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def rejection(response: httpx.Response, attempts: int, request_id: str) -> ComputeRejected:
    """Compute's code and its envelope's message; an answer without the envelope (a proxy's page, which
    may name hosts) is only its status here, its text is in the client's log line."""
    code, found = envelope_code(response)
    message = found or response.reason_phrase or "no envelope"
    if code is None:
        code = STATUS_CODES.get(response.status_code) or (
            ErrorCode.internal if response.status_code >= 500 else ErrorCode.invalid_request
        )
    return ComputeRejected(
        code,
        f"compute {response.status_code}: {message}",
        response.status_code,
        attempts=attempts,
        request_id=request_id,
    )
