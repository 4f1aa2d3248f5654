"""A job's events as a Server-Sent Events response, holding one slot of the process's event hub.

The slot is freed when the response ends however it ends: finished, client gone, or the response never
started (Starlette's StreamingResponse does not close a body it never began, so the slot is freed here).
"""

from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from orchestrator.jobs import Subscription

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _messages(subscription: Subscription, heartbeat_s: float) -> AsyncIterator[str]:
    yield ": stream open\n\n"  # the client knows at once that it is subscribed
    async for event in subscription.events(heartbeat_s):
        # A comment line in quiet times: a dead client's connection fails on it, ending the stream.
        yield ": keep-alive\n\n" if event is None else event.as_sse()


class EventStreamResponse(StreamingResponse):
    def __init__(self, subscription: Subscription, *, heartbeat_s: float):
        super().__init__(
            _messages(subscription, heartbeat_s), media_type="text/event-stream", headers=HEADERS
        )
        self._subscription = subscription

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._subscription.close()
