"""POST /parse: a document's bytes (multipart `file`, or the raw body) to a ParseResult.

A PDF may be parsed a window of pages at a time (`first_page`, `page_count`): the answer covers those
pages, and its `continuation` goes back in the form field of that name with the next window's request.
With `chunk_strategy`, an answer that covers the whole document also carries its chunks (`chunked`),
so that a small document costs one round trip fewer.
"""

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from compute import formats
from compute.chunking import Chunker, chunks_json
from compute.deps import State
from compute.errors import ComputeError
from compute.parsing import Continuation, InvalidContinuation, ParseJob, plain
from contracts import (
    MAX_CHUNK_TOKENS,
    MIN_CHUNK_TOKENS,
    PARSE_CHUNK_PARAMS,
    ChunkOptions,
    ChunkRequest,
    ChunkStrategy,
    ErrorCode,
    ErrorEnvelope,
    ParseResult,
)

router = APIRouter()
ERRORS = {s: {"model": ErrorEnvelope} for s in (401, 413, 415, 422, 503, 504)}


@dataclass
class _Upload:
    data: bytes
    filename: str | None
    password: str | None
    continuation: str | None


def _field(form, name: str) -> str | None:  # form: starlette's FormData
    value = form.get(name)
    return value if isinstance(value, str) and value else None


async def _read_upload(request: Request, limit: int) -> _Upload:
    """The file's bytes, name, password and continuation. The body's size is capped as it streams
    (body_limit)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=8) as form:  # closing it removes the spooled file
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ComputeError(ErrorCode.invalid_request, "multipart field `file` is missing")
            data = await upload.read(limit + 1)
            return _Upload(data, upload.filename, _field(form, "password"), _field(form, "continuation"))
    data = b"".join([chunk async for chunk in request.stream()])
    return _Upload(
        data,
        request.headers.get("x-filename"),
        request.headers.get("x-document-password"),
        request.headers.get("x-parse-continuation"),
    )


def _window(first_page: int | None, page_count: int | None, max_pages: int) -> tuple[int, int] | None:
    """The window asked for; a page_count over this service's limit is cut to it (the answer's `window`
    says which pages it covers, and the caller goes on from there)."""
    if first_page is None and page_count is None:
        return None
    return (first_page or 1, min(page_count or max_pages, max_pages))


def _continuation(raw: str | None) -> dict | None:
    if raw is None:
        return None
    try:
        return Continuation.parse(raw).model_dump(mode="json")
    except InvalidContinuation as exc:
        raise ComputeError(ErrorCode.invalid_request, str(exc)) from None


async def _inline(upload: _Upload, include_document: bool, max_bytes: int) -> bool:
    """A small plain-text file is parsed here (plain.py); every other file goes to a parse worker."""
    if include_document or not upload.data or len(upload.data) > max_bytes:
        return False
    try:
        # Off the loop: detection reads a bounded sample, but a zip's directory or an OLE file is read whole.
        return await asyncio.to_thread(formats.detect, upload.data, upload.filename) == formats.TEXT
    except (formats.Unsupported, formats.Encrypted):  # the worker answers these, with their codes
        return False


@dataclass(frozen=True)
class _Chunking:
    """The chunks asked for with the parse, made when the answer is the whole document."""

    chunker: Chunker
    options: ChunkOptions


def _chunk_options(
    strategy: ChunkStrategy | None = Query(
        None,
        alias=PARSE_CHUNK_PARAMS["strategy"],
        description="also chunk the answer, as /chunk would, when it covers the whole document",
    ),
    max_tokens: int | None = Query(
        None,
        alias=PARSE_CHUNK_PARAMS["max_tokens"],
        ge=MIN_CHUNK_TOKENS,
        le=MAX_CHUNK_TOKENS,
        description="with chunk_strategy",
    ),
) -> ChunkOptions | None:
    return ChunkOptions(strategy=strategy, max_tokens=max_tokens) if strategy else None


def _inline_json(data: bytes, chunking: _Chunking | None) -> bytes:
    return _result_json({"result": plain.parse_result(data)}, False, chunking)


def _result_json(payload: dict, include_document: bool, chunking: _Chunking | None) -> bytes:
    result = ParseResult.model_validate(payload["result"])
    if include_document:
        result.document = payload["document"]
    if chunking is None or not result.covers_whole_document():
        return result.model_dump_json().encode()
    chunked = chunking.chunker.run(ChunkRequest(document=result, **chunking.options.model_dump()))
    head = result.model_dump_json(exclude={"chunked"}).encode()
    return head[:-1] + b',"chunked":' + chunks_json(chunked) + b"}"


@router.post("/parse", response_model=ParseResult, responses=ERRORS)
async def parse(
    request: Request,
    state: State,
    include_document: bool = Query(
        False, description="also return the DoclingDocument JSON (for docling_hybrid)"
    ),
    first_page: int | None = Query(None, ge=1, description="a PDF: the first page of the window to parse"),
    page_count: int | None = Query(None, ge=1, description="a PDF: pages in the window (at most the limit)"),
    chunk_options: ChunkOptions | None = Depends(_chunk_options),
) -> Response:
    settings = state.settings
    chunking = _Chunking(state.chunker(), chunk_options) if chunk_options else None
    window = _window(first_page, page_count, settings.max_window_pages)
    upload = await _read_upload(request, settings.max_upload_bytes)
    if len(upload.data) > settings.max_upload_bytes:
        raise ComputeError(
            ErrorCode.too_large, f"the upload is over the limit of {settings.max_upload_bytes} bytes"
        )
    if await _inline(upload, include_document, settings.inline_text_max_bytes):
        body = await asyncio.to_thread(_inline_json, upload.data, chunking)
        return Response(body, media_type="application/json")
    job = ParseJob(
        upload.data,
        upload.filename,
        upload.password,
        window=window,
        continuation=_continuation(upload.continuation) if window else None,
        include_document=include_document,
    )
    assert state.parse_pool is not None
    try:
        outcome = await state.parse_pool.parse(job)
    except ComputeError as exc:
        state.metrics.parse_errors.labels(exc.code.value).inc()
        raise
    state.metrics.parse_peak_rss.set(state.parse_pool.peak_rss_mb * 1024 * 1024)
    # Validating and writing a large document is CPU work: a worker thread does it, not the event loop.
    body = await asyncio.to_thread(_result_json, outcome.payload, include_document, chunking)
    headers = {"X-Parse-Peak-RSS-MB": f"{outcome.peak_rss_mb:.1f}"}
    return Response(body, media_type="application/json", headers=headers)
