"""A cap on every request body but the upload's, as a pure-ASGI layer: counted while the body streams in.

FastAPI reads and parses a whole JSON (or form) body before any dependency runs, the API key check
included, so without this one client could make the API buffer gigabytes. A declared Content-Length past
the cap is refused before a byte is read; a chunked or lying body is cut off once its count passes the cap
(413 `too_large`). The upload route streams its own body under its own limits (api/multipart_upload.py).
Compute has its twin (compute/body_limit.py): the services share wire contracts only, never code.
"""

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.api.errors import envelope

UPLOAD_PATH = re.compile(r"^/api/v1/collections/[^/]+/documents$")


class BodyTooLarge(HTTPException):
    def __init__(self, limit_bytes: int):
        super().__init__(413, f"the request body is over the limit of {limit_bytes} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and UPLOAD_PATH.match(scope["path"])):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            # Raised where no handler sits (a middleware read the body): answer here while still possible.
            if started:
                raise
            await _refuse(scope, receive, send, limit)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = envelope(413, "too_large", f"the request body is over the limit of {limit} bytes")
    await response(scope, receive, send)
