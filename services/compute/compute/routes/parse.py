"""POST /parse: a document's bytes (multipart `file`, or the raw body) to a ParseResult."""

import asyncio

from fastapi import APIRouter, Query, Request, Response
from starlette.datastructures import UploadFile

from compute.deps import State
from compute.errors import ComputeError
from contracts import ErrorCode, ErrorEnvelope, ParseResult

router = APIRouter()
ERRORS = {s: {"model": ErrorEnvelope} for s in (401, 413, 415, 422, 503, 504)}


async def _read_upload(request: Request, limit: int) -> tuple[bytes, str | None, str | None]:
    """The file's bytes, name and password. The body's size is capped as it streams (body_limit)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=8) as form:  # closing it removes the spooled file
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ComputeError(ErrorCode.invalid_request, "multipart field `file` is missing")
            data = await upload.read(limit + 1)
            password = form.get("password")
            return data, upload.filename, password if isinstance(password, str) and password else None
    data = b"".join([chunk async for chunk in request.stream()])
    return data, request.headers.get("x-filename"), request.headers.get("x-document-password")


def _result_json(payload: dict, include_document: bool) -> bytes:
    result = ParseResult.model_validate(payload["result"])
    if include_document:
        result.document = payload["document"]
    return result.model_dump_json().encode()


@router.post("/parse", response_model=ParseResult, responses=ERRORS)
async def parse(
    request: Request,
    state: State,
    include_document: bool = Query(
        False, description="also return the DoclingDocument JSON (for docling_hybrid)"
    ),
) -> Response:
    limit = state.settings.max_upload_bytes
    data, filename, password = await _read_upload(request, limit)
    if len(data) > limit:
        raise ComputeError(ErrorCode.too_large, f"the upload is over the limit of {limit} bytes")
    assert state.parse_pool is not None
    try:
        outcome = await state.parse_pool.parse(data, filename, password)
    except ComputeError as exc:
        state.metrics.parse_errors.labels(exc.code.value).inc()
        raise
    state.metrics.parse_peak_rss.set(state.parse_pool.peak_rss_mb * 1024 * 1024)
    # Validating and writing a large document is CPU work: a worker thread does it, not the event loop.
    body = await asyncio.to_thread(_result_json, outcome.payload, include_document)
    headers = {"X-Parse-Peak-RSS-MB": f"{outcome.peak_rss_mb:.1f}"}
    return Response(body, media_type="application/json", headers=headers)
