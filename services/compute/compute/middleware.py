"""Request id, service token and per-route metrics, as one pure-ASGI middleware (no body buffering)."""

import logging
import secrets
import time
import uuid

from compute.errors import ComputeError, error_response
from compute.metrics import Metrics
from contracts import REQUEST_ID_HEADER, ErrorCode

log = logging.getLogger("compute.access")
OPEN_PATHS = {"/livez", "/readyz", "/metrics"}


class ServiceMiddleware:
    def __init__(self, app, token: str | None, metrics: Metrics):  # app: the ASGI app
        self.app = app
        self.token = token.encode() if token else None
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get(REQUEST_ID_HEADER.lower()) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path = scope["path"]
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                ]
            await send(message)

        if self.token and path not in OPEN_PATHS and not self._authorized(headers.get("authorization", "")):
            response = error_response(ComputeError(ErrorCode.unauthorized, "missing or wrong service token"))
            await response(scope, receive, send_with_id)
        else:
            await self.app(scope, receive, send_with_id)
        elapsed = time.perf_counter() - started
        route = path if path in ROUTES else "other"
        self.metrics.requests.labels(route, str(status_holder["status"])).inc()
        self.metrics.latency.labels(route).observe(elapsed)
        log.info(
            "%s %s %d %.1fms request_id=%s",
            scope["method"],
            path,
            status_holder["status"],
            elapsed * 1000,
            request_id,
        )

    def _authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            value.strip().encode(), self.token or b""
        )


ROUTES = {
    "/parse",
    "/chunk",
    "/embed",
    "/v1/embeddings",
    "/extract-metadata",
    "/models",
    "/livez",
    "/readyz",
    "/metrics",
}
