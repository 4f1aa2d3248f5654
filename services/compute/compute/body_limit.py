"""Request body caps on every route, as a pure-ASGI layer: counted while the body streams in.

A declared Content-Length past the route's cap is refused before a byte is read; a chunked body (no
Content-Length) or one that lies is cut off as soon as the count passes the cap. Reading past it raises
`BodyTooLarge` inside the app, which FastAPI lets through its body parsing and the error handlers turn
into 413 `too_large` in the envelope. Nothing is buffered here.
"""

from starlette.exceptions import HTTPException

from compute.errors import ComputeError, error_response
from contracts import ErrorCode

# Multipart framing around /parse's file: boundaries, part headers, the small form fields.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, limit_bytes: int):
        super().__init__(413, f"the request body is over the limit of {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


class BodyLimitMiddleware:
    def __init__(self, app, route_limits: dict[str, int], default_bytes: int):  # app: the ASGI app
        self.app = app
        self.route_limits = route_limits
        self.default_bytes = default_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.route_limits.get(scope["path"], self.default_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            return await _refuse(scope, receive, send, f"the request body is {declared} bytes", limit)
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            # Raised where no handler sits (e.g. a middleware read the body): answer here if still possible.
            if started:
                raise
            await _refuse(scope, receive, send, "the request body is over the limit", limit)


def _content_length(scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(scope, receive, send, what: str, limit: int) -> None:
    error = ComputeError(ErrorCode.too_large, f"{what}; the limit is {limit} bytes")
    await error_response(error)(scope, receive, send)
