"""POST /parse: a document's bytes (multipart `file`, or the raw body) to a ParseResult."""

from fastapi import APIRouter, Query, Request, Response
from starlette.datastructures import UploadFile

from compute.deps import State
from compute.errors import ComputeError
from contracts import ErrorCode, ErrorEnvelope, ParseResult

router = APIRouter()
MULTIPART_OVERHEAD_BYTES = 64 * 1024
ERRORS = {s: {"model": ErrorEnvelope} for s in (401, 413, 415, 422, 503, 504)}


async def _read_upload(request: Request, limit: int) -> tuple[bytes, str | None, str | None]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD_BYTES:
        raise ComputeError(ErrorCode.too_large, f"the upload is {declared} bytes; the limit is {limit}")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=8)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ComputeError(ErrorCode.invalid_request, "multipart field `file` is missing")
        data = await upload.read(limit + 1)
        password = form.get("password")
        return data, upload.filename, password if isinstance(password, str) and password else None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # counted while streaming: a liar's Content-Length does not help
        size += len(chunk)
        if size > limit:
            raise ComputeError(ErrorCode.too_large, f"the upload is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks), request.headers.get("x-filename"), request.headers.get("x-document-password")


@router.post("/parse", response_model=ParseResult, responses=ERRORS)
async def parse(
    request: Request,
    state: State,
    response: Response,
    include_document: bool = Query(
        False, description="also return the DoclingDocument JSON (for docling_hybrid)"
    ),
) -> ParseResult:
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
    response.headers["X-Parse-Peak-RSS-MB"] = f"{outcome.peak_rss_mb:.1f}"
    result = ParseResult.model_validate(outcome.payload["result"])
    if include_document:
        result.document = outcome.payload["document"]
    return result
