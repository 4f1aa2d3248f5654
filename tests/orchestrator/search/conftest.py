"""Fixtures of the search tests: clients on the test Redis and Chroma, a lexical index in a temp
directory, and a follower keeping it current."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from orchestrator.clients import Clients
from orchestrator.search.lexical import LexicalFollower, LexicalIndex
from orchestrator.settings import Settings
from tests.support.lexical import BLOCK_MS, build_clients, close_clients


@pytest.fixture
async def clients(settings: Settings, redis: Redis, chroma_url: str) -> AsyncIterator[Clients]:
    built = await build_clients(settings, redis, chroma_url)
    yield built
    await close_clients(built)


@pytest.fixture
async def index(tmp_path: Path) -> AsyncIterator[LexicalIndex]:
    lexical = LexicalIndex.open(tmp_path / "slot-0")
    yield lexical
    lexical.close()


@pytest.fixture
async def follower(clients: Clients, index: LexicalIndex) -> AsyncIterator[LexicalFollower]:
    running = LexicalFollower(clients, index, batch=4, block_ms=BLOCK_MS)
    await running.start()
    yield running
    await running.stop()
