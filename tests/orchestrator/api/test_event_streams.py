"""Server-Sent Events streams cannot starve the API: hundreds held open while other requests answer, the
caps per API key and per process (429 with Retry-After), heartbeats, and each stream's end with its job.

The API runs under uvicorn on a real socket (httpx's ASGI transport would buffer a stream to its end),
with a Redis pool far smaller than the number of streams: a stream that held a pooled connection would
make every other request wait for the pool."""

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from orchestrator.api import create_app
from orchestrator.jobs import JobQueue, JobType
from orchestrator.settings import Settings
from tests.support import free_port
from tests.support.api import API, stack_settings

STREAMS = 300
# A guard against a stall, not a speed goal: on a loaded 2-core machine a request takes milliseconds.
ANSWER_WITHIN_S = 5.0
KEY_A, KEY_B = secrets.token_hex(24), secrets.token_hex(24)


def _settings(settings: Settings, chroma_url: str, **overrides: Any) -> Settings:
    # No compute needed: these requests never reach it. No workers: the jobs stay queued while watched.
    return stack_settings(
        settings.redis_url,
        chroma_url,
        "http://127.0.0.1:9",
        secrets.token_hex(20),  # never used, but the API refuses to start with a short one
        api_workers=0,
        redis_max_connections=8,
        sse_heartbeat_s=0.5,
        **overrides,
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the API did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _open(client: httpx.AsyncClient, stack: contextlib.AsyncExitStack, job_id: str, **kw: Any):
    """Opens a job's stream and reads its first line; returns the response (still open) and its lines
    (keep them referenced: a line iterator that is collected closes the connection)."""
    response = await stack.enter_async_context(client.stream("GET", f"{API}/jobs/{job_id}/events", **kw))
    assert response.status_code == 200, await response.aread()
    lines = response.aiter_lines()
    assert await anext(lines) == ": stream open"
    return response, lines


async def _next_comment(lines: AsyncIterator[str]) -> str:
    """The next comment line (the job's `queued` event comes first)."""
    async for line in lines:
        if line.startswith(":"):
            return line
    raise AssertionError("the stream ended")


async def _timed_get(client: httpx.AsyncClient, path: str) -> float:
    start = time.perf_counter()
    response = await asyncio.wait_for(client.get(path), ANSWER_WITHIN_S)
    assert response.status_code == 200, response.text
    return time.perf_counter() - start


async def test_hundreds_of_open_streams_leave_other_requests_answering(
    settings: Settings, chroma_url: str, queue: JobQueue
) -> None:
    app_settings = _settings(
        settings, chroma_url, sse_max_streams=STREAMS + 10, sse_max_streams_per_key=STREAMS
    )
    jobs = [(await queue.enqueue(JobType.ingest)).job.id for _ in range(STREAMS)]
    limits = httpx.Limits(max_connections=STREAMS + 20, max_keepalive_connections=20)
    async with (
        serving(app_settings) as url,
        httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as watchers,
        httpx.AsyncClient(base_url=url, timeout=30) as other,
        contextlib.AsyncExitStack() as stack,
    ):
        opened = await asyncio.gather(*(_open(watchers, stack, job_id) for job_id in jobs))
        held = len(opened)
        latencies = []
        for round_ in range(20):
            for path in ("/livez", f"{API}/collections", f"{API}/jobs/{jobs[round_]}"):
                latencies.append(await _timed_get(other, path))
        print(
            f"\n{held} event streams held open; other requests answered 200, slowest {max(latencies):.3f} s"
        )
        assert held == STREAMS

        # Quiet streams carry heartbeats; a stream ends with its job's final event.
        _, lines = opened[0]
        assert await asyncio.wait_for(_next_comment(lines), ANSWER_WITHIN_S) == ": keep-alive"
        _, lines = opened[1]
        await queue.cancel(jobs[1])
        rest = await asyncio.wait_for(_data_lines(lines), ANSWER_WITHIN_S)
        assert rest and '"cancelled"' in rest[-1]


async def test_stream_caps_per_key_and_per_process_answer_429(
    settings: Settings, chroma_url: str, queue: JobQueue
) -> None:
    app_settings = _settings(
        settings,
        chroma_url,
        env="prod",
        api_keys=f"{KEY_A},{KEY_B}",
        sse_max_streams=3,
        sse_max_streams_per_key=2,
    )
    job_id = (await queue.enqueue(JobType.ingest)).job.id
    a = {"Authorization": f"Bearer {KEY_A}"}
    b = {"Authorization": f"Bearer {KEY_B}"}
    async with serving(app_settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        async with contextlib.AsyncExitStack() as stack:
            # Kept referenced: a line iterator dropped and collected closes its connection, and its stream.
            held = [await _open(client, stack, job_id, headers=a) for _ in range(2)]
            refused = await client.get(f"{API}/jobs/{job_id}/events", headers=a)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "too_many_streams"
            assert int(refused.headers["Retry-After"]) >= 1
            held.append(await _open(client, stack, job_id, headers=b))  # another key has its own budget...
            full = await client.get(f"{API}/jobs/{job_id}/events", headers=b)
            assert (full.status_code, full.json()["error"]["code"]) == (429, "too_many_streams")  # ...to 3
            assert (await client.get(f"{API}/jobs/{job_id}", headers=a)).status_code == 200
            assert len(held) == 3
        # Closed streams give their slots back (the server notices the disconnect).
        for _ in range(100):
            async with client.stream("GET", f"{API}/jobs/{job_id}/events", headers=a) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.05)
        assert again.status_code == 200


async def test_in_dev_mode_the_per_key_cap_counts_the_address_whatever_the_bearer(
    settings: Settings, chroma_url: str, queue: JobQueue
) -> None:
    app_settings = _settings(settings, chroma_url, sse_max_streams=10, sse_max_streams_per_key=1)
    job_id = (await queue.enqueue(JobType.ingest)).job.id
    async with (
        serving(app_settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        held = await _open(client, stack, job_id, headers={"Authorization": "Bearer one"})
        # Without keys any Bearer string passes: a new one each time must not buy a new budget.
        for headers in ({"Authorization": "Bearer two"}, {}):
            refused = await client.get(f"{API}/jobs/{job_id}/events", headers=headers)
            assert (refused.status_code, refused.json()["error"]["code"]) == (429, "too_many_streams")
        assert held


async def test_resume_after_last_event_id_and_bad_ids_are_422_before_the_stream(
    settings: Settings, chroma_url: str, queue: JobQueue
) -> None:
    job_id = (await queue.enqueue(JobType.ingest)).job.id
    await queue.cancel(job_id)  # queued, then cancelled: two status events
    async with serving(_settings(settings, chroma_url)) as url, httpx.AsyncClient(base_url=url) as client:
        whole = (await client.get(f"{API}/jobs/{job_id}/events")).text
        ids = [line.removeprefix("id: ") for line in whole.splitlines() if line.startswith("id: ")]
        assert len(ids) == 2
        resumed = (await client.get(f"{API}/jobs/{job_id}/events", headers={"Last-Event-ID": ids[0]})).text
        assert [line for line in resumed.splitlines() if line.startswith("id: ")] == [f"id: {ids[1]}"]
        for bad in ("null", "1-2-3", "x", "99999999999999999999-0", "-1"):
            response = await client.get(f"{API}/jobs/{job_id}/events", headers={"Last-Event-ID": bad})
            assert response.status_code == 422, bad
            assert response.headers["content-type"] == "application/json"
        odd = await client.get(f"{API}/jobs/{job_id}:events/events")
        assert odd.status_code in (404, 422)


@pytest.fixture(autouse=True)
def _quiet_uvicorn_access_log() -> None:
    """uvicorn's access log for 300 streams only buries a failure's output."""
    import logging

    logging.getLogger("uvicorn.access").disabled = True


async def _data_lines(lines: AsyncIterator[str]) -> list[str]:
    return [line async for line in lines if line.startswith("data: ")]
