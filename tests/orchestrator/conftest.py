"""Fixtures: a real redis-server per session (a fresh one for tests that crash it), fast queue settings."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator.core.redis_client import connect
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.settings import Settings
from tests.support import ComputeServer
from tests.support.api import running_app, stack_settings
from tests.support.chroma_server import ChromaServer
from tests.support.job_queue import FAST
from tests.support.redis_server import RedisServer

HERE = Path(__file__).parent

# A hung test fails on its own instead of stalling the suite (a guard, not a speed assertion).
TEST_TIMEOUT_S = 240


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


def _server(tmp_path_factory: pytest.TempPathFactory, appendfsync: str) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), appendfsync=appendfsync)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from _server(tmp_path_factory, "everysec")


@pytest.fixture
def own_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server of the test's own, for tests that crash it: every acknowledged write is on disk."""
    yield from _server(tmp_path_factory, "always")


@pytest.fixture
def settings(redis_server: RedisServer) -> Settings:
    return Settings(redis_url=redis_server.url, **FAST)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = connect(settings)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def queue(redis: Redis, settings: Settings) -> JobQueue:
    job_queue = JobQueue(redis, settings)
    await job_queue.setup()
    return job_queue


# --- Chroma and compute servers (vectors, compute client and the API on top of them) ---


# The compute fixture runs with a service token, as production does: send it (Settings.compute_token).
COMPUTE_TOKEN = "test-compute-token-of-forty-characters-xx"


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One real Chroma server for the session. Tests that stop or kill Chroma use `own_chroma_server`."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chroma_url(chroma_server: ChromaServer) -> str:
    return chroma_server.url


@pytest.fixture
def own_chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A Chroma server of the test's own, free to stop (.stop), crash (.kill) and bring back (.start,
    same port and data); it is stopped after the test."""
    server = ChromaServer(tmp_path_factory.mktemp("own-chroma")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def compute_token() -> str:
    return COMPUTE_TOKEN


@pytest.fixture(scope="session")
def compute_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real compute service (real models, ~20 s to start) from .venv/compute, with a service token."""
    server = ComputeServer(
        tmp_path_factory.mktemp("compute") / "compute.log", COMPUTE_SERVICE_TOKEN=COMPUTE_TOKEN
    ).start()
    try:
        yield server.url
    finally:
        server.stop()


# --- the API on a real stack (Redis, Chroma, compute), run in-process (tests/support/api.py) ---


@pytest.fixture
def api_settings(
    redis: Redis, settings: Settings, chroma_url: str, compute_url: str, compute_token: str
) -> Settings:
    """Settings of an API on the session's servers: dev mode (no keys), 2 in-process workers, fast retries.
    Depends on `redis` so that Redis starts each test empty."""
    return stack_settings(settings.redis_url, chroma_url, compute_url, compute_token)


@pytest.fixture
async def api(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running app (lifespan included)."""
    async with running_app(api_settings) as (_, client):
        yield client
