"""Every error the API answers is `{"error": {"code", "message", "retryable"}}` with a stable code:
its own ApiError, the registry's and queue's errors, validation (422), unknown routes (404) and methods
(405), and anything unexpected (500, logged)."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator.errors import OrchErrorCode, OrchestratorError, VectorStoreError

log = logging.getLogger(__name__)

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

# Orchestrator error codes to HTTP statuses (anything else: 409 if it is a conflict, 500).
CODE_STATUS = {
    "not_found": 404,
    "conflict": 409,
    OrchErrorCode.illegal_transition: 409,
    "invalid_request": 422,
    "unknown_model": 422,
    "compute_unavailable": 503,
    "vector_store_unavailable": 503,
    "collection_missing": 409,
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retryable, self.headers, self.extra = retryable, headers, extra or {}


def envelope(
    status: int,
    code: str,
    message: str,
    *,
    retryable: bool = False,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = {"error": {"code": str(code), "message": message, "retryable": retryable, **(extra or {})}}
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return envelope(
            exc.status, exc.code, exc.message, retryable=exc.retryable, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(OrchestratorError)
    async def orchestrator_error(_: Request, exc: OrchestratorError) -> JSONResponse:
        status = CODE_STATUS.get(str(exc.code))
        if status is None:
            status = 503 if exc.retryable else (409 if "conflict" in type(exc).__name__.lower() else 500)
        if isinstance(exc, VectorStoreError) and status == 500:
            status = 422  # Chroma refused the data or the filter
        return envelope(status, str(exc.code), exc.message, retryable=exc.retryable)

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
