"""Reads a multipart upload from the request stream itself: the file's size is checked as its bytes
arrive (413 at the first byte past the limit, and at once from a Content-Length that says so), and its
sha256 is computed on the way. Text fields are small and bounded."""

import hashlib
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from orchestrator.api.errors import ApiError

MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 16
# Multipart framing (boundaries, part headers, the small text fields) on top of the file itself.
OVERHEAD_BYTES = MAX_PARTS * (MAX_FIELD_BYTES + 1024)


@dataclass
class Upload:
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    sha256: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    has_file: bool = False


def too_large(limit_bytes: int) -> ApiError:
    return ApiError(413, "too_large", f"the upload is larger than {limit_bytes} bytes")


def _disposition(headers: dict[bytes, bytes]) -> tuple[str, str | None]:
    _, options = parse_options_header(headers.get(b"content-disposition", b""))
    name = options.get(b"name", b"").decode("utf-8", "replace")
    filename = options.get(b"filename")
    return name, filename.decode("utf-8", "replace") if filename is not None else None


async def read_upload(request: Request, *, max_file_bytes: int, file_field: str = "file") -> Upload:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise ApiError(415, "unsupported_media_type", "send the document as multipart/form-data")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_file_bytes + OVERHEAD_BYTES:
        raise too_large(max_file_bytes)

    upload = Upload()
    digest = hashlib.sha256()
    state: dict = {
        "headers": {},
        "name": "",
        "is_file": False,
        "value": bytearray(),
        "parts": 0,
        "field": b"",
    }
    errors: list[ApiError] = []

    def on_part_begin() -> None:
        state.update(headers={}, name="", is_file=False, value=bytearray())
        state["parts"] += 1
        if state["parts"] > MAX_PARTS:
            errors.append(ApiError(422, "invalid_request", f"at most {MAX_PARTS} form parts"))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        key = state["field"].lower()
        state["headers"][key] = state["headers"].get(key, b"") + data[start:end]

    def on_header_end() -> None:
        state["field"] = b""

    def on_headers_finished() -> None:
        name, filename = _disposition(state["headers"])
        state["name"] = name
        state["is_file"] = name == file_field
        if state["is_file"]:
            if upload.has_file:
                errors.append(ApiError(422, "invalid_request", "send exactly one file"))
            upload.has_file = True
            upload.filename = filename

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if state["is_file"]:
            if len(upload.data) + len(chunk) > max_file_bytes:
                errors.append(too_large(max_file_bytes))
                return
            upload.data += chunk
            digest.update(chunk)
        else:
            if len(state["value"]) + len(chunk) > MAX_FIELD_BYTES:
                errors.append(ApiError(413, "too_large", f"form field {state['name']!r} is too large"))
                return
            state["value"] += chunk

    def on_part_end() -> None:
        if not state["is_file"] and state["name"]:
            upload.fields[state["name"]] = state["value"].decode("utf-8", "replace")

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if errors:
                raise errors[0]
        parser.finalize()
    except ApiError:
        raise
    except Exception as exc:  # a malformed body: the parser's own errors
        raise ApiError(422, "invalid_request", f"malformed multipart body: {exc}") from exc
    if errors:
        raise errors[0]
    if not upload.has_file:
        raise ApiError(
            422, "invalid_request", f"the multipart field {file_field!r} (the document) is missing"
        )
    upload.sha256 = digest.hexdigest()
    return upload
