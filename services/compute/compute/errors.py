"""Every error the compute service answers with: one exception type, codes from the contracts."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts import ErrorBody, ErrorCode, ErrorEnvelope

log = logging.getLogger("compute.errors")

# The status each code is answered with; retryable ones are worth another try, maybe elsewhere.
STATUS: dict[ErrorCode, int] = {
    ErrorCode.invalid_request: 422,
    ErrorCode.unsupported_format: 415,
    ErrorCode.corrupt_document: 422,
    ErrorCode.encrypted_document: 422,
    ErrorCode.empty_document: 422,
    ErrorCode.too_large: 413,
    ErrorCode.memory_limit: 422,
    ErrorCode.unknown_model: 404,
    ErrorCode.unauthorized: 401,
    ErrorCode.not_found: 404,
    ErrorCode.conflict: 409,
    ErrorCode.timeout: 504,
    ErrorCode.overloaded: 503,
    ErrorCode.not_ready: 503,
    ErrorCode.upstream_error: 502,
    ErrorCode.internal: 500,
    ErrorCode.worker_lost: 503,
}
RETRYABLE = {
    ErrorCode.timeout,
    ErrorCode.overloaded,
    ErrorCode.not_ready,
    ErrorCode.upstream_error,
    ErrorCode.worker_lost,
}


class ComputeError(Exception):
    def __init__(self, code: ErrorCode, message: str, *, retry_after_s: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def envelope(self) -> dict:
        body = ErrorBody(code=self.code, message=self.message, retryable=self.code in RETRYABLE)
        return ErrorEnvelope(error=body).model_dump(mode="json")


def error_response(exc: ComputeError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return JSONResponse(exc.envelope(), status_code=exc.status, headers=headers)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ComputeError)
    async def _compute_error(_: Request, exc: ComputeError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return error_response(ComputeError(ErrorCode.invalid_request, message))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: ErrorCode.not_found, 401: ErrorCode.unauthorized, 413: ErrorCode.too_large}.get(
            exc.status_code, ErrorCode.invalid_request
        )
        body = ErrorBody(code=code, message=str(exc.detail), retryable=False)
        return JSONResponse(ErrorEnvelope(error=body).model_dump(mode="json"), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not an input problem: logged with its trace, answered in the envelope.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ComputeError(ErrorCode.internal, f"internal error: {type(exc).__name__}"))
