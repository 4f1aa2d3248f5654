"""Request ids and request metrics, as one pure ASGI middleware.

Not Starlette's BaseHTTPMiddleware (`@app.middleware("http")`): that one runs every request through a
task group and memory streams, which cost CPU on each call and sit between a streamed response (job
events over SSE) and the client.
"""

import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts import REQUEST_ID_HEADER

# Label values come from closed sets, so no request can add a series: h11 accepts any token as a method,
# and any path reaches the app.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "unmatched"


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER_METHOD


def route_label(scope: Scope) -> str:
    """The matched route's template (`/api/v1/jobs/{job_id}`), or one label for every unmatched path."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def request_id(given: str) -> str:
    """The client's X-Request-ID if it is sane (short, ASCII letters, digits and -_.:), else a new one.
    ASCII only: str.isalnum() takes 'é' or '²', which httpx then cannot put in a header to compute."""
    ok = 0 < len(given) <= 128 and given.isascii() and all(c.isalnum() or c in "-_.:" for c in given)
    return given if ok else uuid.uuid4().hex


class RequestContext:
    """Every request gets an id (`request.state.request_id`), answered back in X-Request-ID and sent to
    compute with the calls made for it; every request is counted and timed by method, route template and
    status (method_label, route_label)."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry):
        self.app = app
        self.requests = Counter(
            "orchestrator_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "orchestrator_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(Headers(scope=scope).get(REQUEST_ID_HEADER, ""))
        scope.setdefault("state", {})["request_id"] = rid  # what request.state reads
        status = 500  # unless a response starts: an exception escaped to the server's error handler
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            method, route = method_label(scope["method"]), route_label(scope)
            self.requests.labels(method, route, str(status)).inc()
            self.latency.labels(method, route).observe(time.perf_counter() - start)
