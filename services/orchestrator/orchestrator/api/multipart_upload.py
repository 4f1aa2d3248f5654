"""Reads a multipart upload from the request stream itself, straight into the blob store: the file's size
is checked as its bytes arrive (413 at the first byte past the limit, and at once from a Content-Length
that says so), its sha256 is computed on the way, and it is written to a staged blob chunk by chunk, so
an upload is never held whole in memory. Text fields are small and bounded."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.multipart import MAX_BOUNDARY_LENGTH, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from orchestrator.api.errors import ApiError
from orchestrator.catalog import BlobStore, StagedBlob

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 16
PASSWORD_FIELD = "password"
MAX_PASSWORD_CHARS = 1024  # as a re-ingest's password (api.schemas.ReingestRequest)
# Multipart framing (boundaries, part headers, the small text fields) on top of the file itself.
OVERHEAD_BYTES = MAX_PARTS * (MAX_FIELD_BYTES + 1024)


@dataclass
class Upload:
    staged: StagedBlob  # the file's bytes, written; the caller commits or discards it
    filename: str | None = None
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # the text fields, never the password
    has_file: bool = False
    password: str | None = field(default=None, repr=False)  # the `password` field, kept out of `fields`

    @property
    def size_bytes(self) -> int:
        return self.staged.size_bytes


def too_large(limit_bytes: int) -> ApiError:
    return ApiError(413, "too_large", f"the upload is larger than {limit_bytes} bytes")


def _disposition(headers: dict[bytes, bytes]) -> tuple[str, str | None]:
    _, options = parse_options_header(headers.get(b"content-disposition", b""))
    name = options.get(b"name", b"").decode("utf-8", "replace")
    filename = options.get(b"filename")
    return name, filename.decode("utf-8", "replace") if filename is not None else None


class _Parts:
    """The parser's callbacks: collects the one file (size-checked, hashed) and the small text fields.
    A callback cannot raise through the parser, so errors are kept and raised after each write; nor can
    it await, so the file's bytes of one write wait in `pending` for the blob write after it."""

    def __init__(self, upload: Upload, max_file_bytes: int, file_field: str):
        self.upload, self.max_file_bytes, self.file_field = upload, max_file_bytes, file_field
        self.digest = hashlib.sha256()
        self.file_bytes = 0
        self.pending: list[bytes] = []
        self.errors: list[ApiError] = []
        self.parts = 0
        self.header_field = b""
        self._begin()

    def _begin(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.is_file = False
        self.value = bytearray()

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self._begin()
        self.parts += 1
        if self.parts > MAX_PARTS:
            self.errors.append(ApiError(422, "invalid_request", f"at most {MAX_PARTS} form parts"))

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        key = self.header_field.lower()
        self.headers[key] = self.headers.get(key, b"") + data[start:end]

    def on_header_end(self) -> None:
        self.header_field = b""

    def on_headers_finished(self) -> None:
        self.name, filename = _disposition(self.headers)
        self.is_file = self.name == self.file_field
        if self.is_file:
            if self.upload.has_file:
                self.errors.append(ApiError(422, "invalid_request", "send exactly one file"))
            self.upload.has_file = True
            self.upload.filename = filename

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.is_file:
            if self.file_bytes + len(chunk) > self.max_file_bytes:
                self.errors.append(too_large(self.max_file_bytes))
                return
            self.file_bytes += len(chunk)
            self.pending.append(chunk)
            self.digest.update(chunk)
        else:
            if len(self.value) + len(chunk) > MAX_FIELD_BYTES:
                self.errors.append(ApiError(413, "too_large", f"form field {self.name!r} is too large"))
                return
            self.value += chunk

    def on_part_end(self) -> None:
        if self.is_file or not self.name:
            return
        value = self.value.decode("utf-8", "replace")
        if self.name != PASSWORD_FIELD:
            self.upload.fields[self.name] = value
        elif len(value) > MAX_PASSWORD_CHARS:
            self.errors.append(
                ApiError(
                    422, "invalid_request", f"the password has more than {MAX_PASSWORD_CHARS} characters"
                )
            )
        else:
            self.upload.password = value or None


def _boundary(request: Request, max_file_bytes: int) -> bytes:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise ApiError(415, "unsupported_media_type", "send the document as multipart/form-data")
    boundary = params[b"boundary"]
    if not 1 <= len(boundary) <= MAX_BOUNDARY_LENGTH:
        raise ApiError(
            422, "invalid_request", f"the multipart boundary must have 1 to {MAX_BOUNDARY_LENGTH} characters"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_file_bytes + OVERHEAD_BYTES:
        raise too_large(max_file_bytes)
    return boundary


async def read_upload(
    request: Request, blobs: BlobStore, *, max_file_bytes: int, file_field: str = "file"
) -> Upload:
    """The upload, its file written to a staged blob that the caller must commit or discard (it is
    discarded here when reading fails)."""
    boundary = _boundary(request, max_file_bytes)
    upload = Upload(staged=blobs.stage())
    try:
        await _read(request, boundary, upload, max_file_bytes, file_field)
    except BaseException:
        await blobs.discard(upload.staged)
        raise
    return upload


async def _read(
    request: Request, boundary: bytes, upload: Upload, max_file_bytes: int, file_field: str
) -> None:
    parts = _Parts(upload, max_file_bytes, file_field)
    parser = MultipartParser(boundary, parts.callbacks())
    try:
        async for chunk in request.stream():
            _parse(parts, parser.write, chunk)
            await _flush(parts, upload.staged)
    except ClientDisconnect:
        raise ApiError(400, "invalid_request", "the client went away before the upload ended") from None
    _parse(parts, parser.finalize)
    await _flush(parts, upload.staged)
    if not upload.has_file:
        raise ApiError(
            422, "invalid_request", f"the multipart field {file_field!r} (the document) is missing"
        )
    await upload.staged.close()
    upload.sha256 = parts.digest.hexdigest()


def _parse(parts: _Parts, step: Callable[..., object], *args: bytes) -> None:
    """One parser step; what it found wrong raised as a 4xx (a blob store failure is not wrapped)."""
    try:
        step(*args)
    except Exception as exc:  # a malformed body: the parser's own errors
        raise ApiError(422, "invalid_request", f"malformed multipart body: {exc}") from exc
    if parts.errors:
        raise parts.errors[0]


async def _flush(parts: _Parts, staged: StagedBlob) -> None:
    if parts.pending:
        data = b"".join(parts.pending)
        parts.pending.clear()
        await staged.write(data)
