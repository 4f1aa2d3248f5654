"""A multipart/form-data body whose file part is read from a stream (a blob store's), so a document
travels to compute without ever being whole in memory. Its length is known beforehand (Content-Length,
no chunked encoding), and the body is built anew for every attempt, since a retry reads the file again."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

# Opens the file for one attempt: a fresh stream of its bytes each time.
OpenStream = Callable[[], Awaitable[AsyncIterator[bytes]]]


@dataclass(frozen=True)
class StreamedFile:
    open: OpenStream
    size_bytes: int


def _quote(value: str) -> bytes:
    """A form name or filename inside a quoted header parameter (as browsers and httpx write it)."""
    cleaned = value.replace("\r", "").replace("\n", "").replace("\\", "\\\\").replace('"', "%22")
    return cleaned.encode("utf-8")


class StreamedForm:
    """Text fields, then one file part named `file` read from `file.open()`."""

    def __init__(self, file: StreamedFile, filename: str, fields: dict[str, str]):
        self.file = file
        boundary = uuid.uuid4().hex.encode()
        head = b""
        for name, value in fields.items():
            head += (
                b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + _quote(name) + b'"\r\n\r\n'
            )
            head += value.encode("utf-8") + b"\r\n"
        head += (
            b"--"
            + boundary
            + b'\r\nContent-Disposition: form-data; name="file"; filename="'
            + _quote(filename or "document")
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        self._head, self._tail = head, b"\r\n--" + boundary + b"--\r\n"
        self.headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary.decode()}",
            "Content-Length": str(len(self._head) + file.size_bytes + len(self._tail)),
        }

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._head
        async for chunk in await self.file.open():
            yield chunk
        yield self._tail
