"""One reconcile round at a time in the deployment: parallel POST /admin/reconcile calls on two API
processes (apps) run one round, which reads the vectors once; the others answer 409 `reconcile_running`
with the round's start. The periodic rounds take the same lock, and a lock outlives its TTL while held."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from orchestrator.core.locks import single_flight
from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, create_collection, running_app

PARALLEL = 6
WAIT_S = 30  # a guard against a hang, not a speed goal


class Gate:
    """Holds the Chroma reads of the apps it wraps until opened, and counts them."""

    def __init__(self) -> None:
        self.opened, self.entered = asyncio.Event(), asyncio.Event()
        self.reads: list[str] = []

    def wrap(self, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        vectors = app.state.clients.vectors
        read: Callable[..., Awaitable[Any]] = vectors.get

        async def gated(name: str, *args: Any, **kwargs: Any) -> Any:
            self.reads.append(name)
            self.entered.set()
            await self.opened.wait()
            return await read(name, *args, **kwargs)

        monkeypatch.setattr(vectors, "get", gated)


async def _all_but_one_answer(calls: list[asyncio.Task[httpx.Response]], gate: Gate) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while sum(call.done() for call in calls) < len(calls) - 1:
        assert asyncio.get_running_loop().time() < deadline, f"{len(gate.reads)} rounds are reading at once"
        await asyncio.sleep(0.02)


async def test_parallel_calls_on_two_processes_run_one_round_that_reads_once(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api_settings.model_copy(update={"api_workers": 0, "reconciles_per_min": 0})
    async with running_app(settings) as (one, a), running_app(settings) as (two, b):
        collection = await create_collection(a, "once")
        gate = Gate()
        gate.wrap(one, monkeypatch)
        gate.wrap(two, monkeypatch)
        calls = [asyncio.create_task((a, b)[i % 2].post(f"{API}/admin/reconcile")) for i in range(PARALLEL)]
        await asyncio.wait_for(gate.entered.wait(), WAIT_S)
        await _all_but_one_answer(calls, gate)  # while the one round waits at its first read
        gate.opened.set()
        responses = await asyncio.gather(*calls)
    ran = [r.json() for r in responses if r.status_code == 200]
    refused = [assert_error(r, 409, "reconcile_running") for r in responses if r.status_code != 200]
    assert len(ran) == 1 and len(refused) == PARALLEL - 1
    assert {error["running_since_ms"] for error in refused} == {ran[0]["started_at_ms"]}
    assert all(error["retryable"] for error in refused)
    assert gate.reads == [collection["chroma_name"]]  # one round read the collection's one page, once
    assert ran[0]["collections_checked"] == 1


async def test_a_periodic_round_holds_off_calls(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = api_settings.model_copy(
        update={"api_workers": 0, "reconciles_per_min": 0, "reconcile_interval_s": 0.2}
    )
    async with running_app(settings) as (app, client):
        gate = Gate()
        gate.wrap(app, monkeypatch)
        await create_collection(client, "periodic")
        await asyncio.wait_for(gate.entered.wait(), WAIT_S)  # the periodic round is reading
        refused = assert_error(await client.post(f"{API}/admin/reconcile"), 409, "reconcile_running")
        assert refused["running_since_ms"] > 0
        assert len(gate.reads) == 1
        gate.opened.set()


async def test_a_held_lock_outlives_its_ttl_and_frees_on_exit(redis: Redis) -> None:
    def busy(holder: str | None) -> Exception:
        return RuntimeError(f"held by {holder}")

    async with single_flight(redis, "ds:v1:test-lock", ttl_s=3.0, token="mine", busy=busy):
        await asyncio.sleep(7)  # past two TTLs: renewed meanwhile
        assert await redis.get("ds:v1:test-lock") == "mine"
        with pytest.raises(RuntimeError, match="held by mine"):
            async with single_flight(redis, "ds:v1:test-lock", ttl_s=3.0, token="other", busy=busy):
                pass
    assert await redis.get("ds:v1:test-lock") is None
