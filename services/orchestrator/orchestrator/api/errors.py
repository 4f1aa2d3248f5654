"""Every error the API answers is `{"error": {"code", "message", "retryable"}}` with a stable code:
the domain's errors (each mapped here to its status: domain code raises NotFound, Conflict, ... and never
thinks in HTTP), the API's own ApiError (a bad request), validation (422), unknown routes (404) and
methods (405), Redis away or its pool exhausted (503 with Retry-After), and anything unexpected (500,
logged). Every 503 carries Retry-After: it is the one 5xx a client should see, and it says when to retry."""

import logging
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import OutOfMemoryError
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.errors import ErrorCode
from orchestrator.core.redis_client import TRANSIENT_ERRORS
from orchestrator.errors import Conflict, NotFound, OrchErrorCode, OrchestratorError, VectorStoreError

log = logging.getLogger(__name__)

RETRY_AFTER_S = 1  # what a 503 asks a client to wait: the dependencies it stands for recover in seconds

# Codes that HTTP statuses without an error of our own get.
STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}

# Orchestrator error codes to HTTP statuses (anything else: see status_of).
CODE_STATUS = {
    ErrorCode.not_found: 404,
    ErrorCode.conflict: 409,
    OrchErrorCode.illegal_transition: 409,
    ErrorCode.invalid_request: 422,
    ErrorCode.unknown_model: 422,
    ErrorCode.empty_document: 422,
    OrchErrorCode.compute_unavailable: 503,
    OrchErrorCode.vector_store_unavailable: 503,
    OrchErrorCode.index_not_ready: 503,
    OrchErrorCode.collection_missing: 409,
    OrchErrorCode.too_many_streams: 429,
    OrchErrorCode.invalid_metadata: 422,
    OrchErrorCode.invalid_filter: 422,
    OrchErrorCode.too_many_collections: 409,
    OrchErrorCode.reconcile_running: 409,
    OrchErrorCode.original_not_kept: 409,
    OrchErrorCode.idempotency_key_reused: 409,
}


def status_of(exc: OrchestratorError) -> int:
    if isinstance(exc, NotFound | Conflict):
        return 404 if isinstance(exc, NotFound) else 409
    status = CODE_STATUS.get(exc.code)
    if status is not None:
        return status
    if exc.retryable:
        return 503
    if isinstance(exc, VectorStoreError):
        return 422  # Chroma refused the data or the filter
    return 500


class ApiError(Exception):
    """A request the API refuses before any domain operation runs (malformed, too large, rate limited)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retryable, self.headers = retryable, headers


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # a domain error's details, e.g. a duplicate's document_id

    code: str = Field(description="stable: see docs/api.md#errors")
    message: str
    retryable: bool = Field(description="whether the same request may succeed later (503, 429 say when)")


class ErrorAnswer(BaseModel):
    """The body of every error answer of /api/v1."""

    error: ErrorDetail


# Declared on every /api/v1 route: a typed client knows the envelope (and FastAPI's own 422 schema,
# which this API never answers with, stays out of the document).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorAnswer, "description": "An error, in the envelope every error has."}
}


def envelope(
    status: int,
    code: str,
    message: str,
    *,
    retryable: bool = False,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,  # more fields for the client (a domain error's details)
) -> JSONResponse:
    body = {"error": {"code": str(code), "message": message, "retryable": retryable, **(extra or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"


def _unavailable(message: str, retry_after_s: int) -> JSONResponse:
    return envelope(
        503, STATUS_CODES[503], message, retryable=True, headers={"Retry-After": str(retry_after_s)}
    )


def _cause(cause: BaseException) -> str:
    """An exception as the log shows it, with the URL httpx failed on (its text rarely says)."""
    try:
        where = f" on {cause.request.url}" if isinstance(cause, httpx.RequestError) else ""
    except RuntimeError:  # an httpx error raised without its request
        where = ""
    return f"{type(cause).__name__}{where}: {cause}"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return envelope(exc.status, exc.code, exc.message, retryable=exc.retryable, headers=exc.headers)

    @app.exception_handler(OrchestratorError)
    async def orchestrator_error(request: Request, exc: OrchestratorError) -> JSONResponse:
        status = status_of(exc)
        if exc.__cause__ is not None:  # a dependency's own text (hosts, URLs) is for the log, never the body
            log.warning(
                "%s %s request_id=%s: %s (%s)",
                request.method,
                request.url.path,
                getattr(request.state, "request_id", None),
                exc.code,
                _cause(exc.__cause__),
            )
        headers = None
        if status in (429, 503):  # a budget or a dependency: both say when to come back
            headers = {"Retry-After": str(exc.details.get("retry_after_s", RETRY_AFTER_S))}
        return envelope(
            status, str(exc.code), exc.message, retryable=exc.retryable, headers=headers, extra=exc.details
        )

    @app.exception_handler(OutOfMemoryError)
    async def redis_full(request: Request, exc: OutOfMemoryError) -> JSONResponse:
        # maxmemory with noeviction: Redis refuses writes rather than dropping a job; nothing was written.
        log.error("%s %s: Redis is at its maxmemory: %s", request.method, request.url.path, exc)
        return _unavailable("the registry is full (Redis maxmemory); retry later", RETRY_AFTER_S * 30)

    for transient in TRANSIENT_ERRORS:

        @app.exception_handler(transient)
        async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
            # A pool with no free connection within redis_pool_timeout_s lands here too.
            log.warning("%s %s: Redis unavailable: %s", request.method, request.url.path, exc)
            return _unavailable("the registry is busy or unreachable; retry shortly", RETRY_AFTER_S)

    @app.exception_handler(UnicodeEncodeError)
    async def not_utf8(request: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # The second line behind the checks at the door: a client's lone surrogate met an encoder.
        log.warning("%s %s: text that is not UTF-8: %s", request.method, request.url.path, exc)
        return envelope(422, "invalid_request", "text must be valid UTF-8 (no lone surrogates)")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return envelope(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return envelope(exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return envelope(500, "internal", "internal error", retryable=True)
