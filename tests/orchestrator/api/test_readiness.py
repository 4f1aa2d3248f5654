"""/readyz answers its status only, from probes run at most once a second per process and shared by every
caller meanwhile; each check, with fixed reason codes and never an address or exception text, is at
GET /api/v1/admin/health behind the API key, and the addresses go to the log with the request id."""

import asyncio
import logging

import pytest

import orchestrator.api.readiness as readiness
from orchestrator.api.dependency_probes import probe_dependencies
from orchestrator.api.readiness import SharedRun
from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, running_app

KEY = "k" * 32 + "-readiness"
AUTH = {"Authorization": f"Bearer {KEY}"}
# Unreachable, and recognisable wherever they would leak.
CHROMA_HIDDEN = "chroma-hidden-host.invalid"
COMPUTE_HIDDEN = "compute-hidden-host.invalid"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_readyz_is_the_status_and_the_checks_need_the_key(api_settings: Settings) -> None:
    async with running_app(api_settings.model_copy(update={"api_keys": KEY, "api_workers": 0})) as (
        _,
        client,
    ):
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        assert_error(await client.get(f"{API}/admin/health"), 401, "unauthorized")
        health = await client.get(f"{API}/admin/health", headers=AUTH)
    assert health.status_code == 200, health.text
    report = health.json()
    assert report["status"] == "ready"
    checks = report["checks"]
    assert checks["redis"] == checks["chroma"] == {"ok": True, "reason": None}
    assert checks["compute"] == {"ok": True, "reason": None, "ready": 1, "replicas": [True]}
    assert checks["lexical"]["ok"] is True and checks["lexical"]["reason"] is None


async def test_what_is_down_has_a_reason_code_and_its_address_goes_to_the_log(
    api_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = api_settings.model_copy(
        update={
            "chroma_url": f"http://{CHROMA_HIDDEN}:8000",
            # The session's replica first, then one that never answers: replicas by index, not address.
            "compute_urls": [*api_settings.compute_urls, f"http://{COMPUTE_HIDDEN}:9"],
            "api_workers": 0,
        }
    )
    caplog.set_level(logging.WARNING)
    async with running_app(settings) as (_, client):
        ready = await client.get("/readyz", headers={"X-Request-ID": "probe-1"})
        health = await client.get(f"{API}/admin/health")
    assert ready.status_code == 503 and ready.json() == {"status": "not_ready"}
    checks = health.json()["checks"]
    assert checks["redis"] == {"ok": True, "reason": None}
    assert checks["chroma"] == {"ok": False, "reason": "unreachable"}
    assert checks["compute"] == {"ok": True, "reason": None, "ready": 1, "replicas": [True, False]}
    for text in (ready.text, health.text):
        assert "hidden-host" not in text and "http" not in text
    logged = [r.getMessage() for r in caplog.records if "request_id=probe-1" in r.getMessage()]
    assert any(CHROMA_HIDDEN in line for line in logged), logged
    assert any(COMPUTE_HIDDEN in line and "replica 1" in line for line in logged), logged


async def test_no_compute_replica_ready(api_settings: Settings) -> None:
    settings = api_settings.model_copy(
        update={"compute_urls": [f"http://{COMPUTE_HIDDEN}:9", "http://127.0.0.1:9"], "api_workers": 0}
    )
    async with running_app(settings) as (_, client):
        assert (await client.get("/readyz")).status_code == 503
        compute = (await client.get(f"{API}/admin/health")).json()["checks"]["compute"]
    assert compute == {"ok": False, "reason": "no_replica_ready", "ready": 0, "replicas": [False, False]}


async def test_the_probes_run_once_a_second_whoever_asks(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(api_settings.model_copy(update={"api_workers": 0})) as (app, client):
        clock = FakeClock()
        app.state.readiness = shared = SharedRun(clock=clock)
        calls = 0

        async def counted(clients, request_id: str | None = None) -> dict:
            nonlocal calls
            calls += 1
            return await probe_dependencies(clients, request_id)

        monkeypatch.setattr(readiness, "probe_dependencies", counted)
        answers = await asyncio.gather(
            *(client.get("/readyz") for _ in range(30)),
            *(client.get(f"{API}/admin/health") for _ in range(5)),
        )
        assert [a.status_code for a in answers] == [200] * 35
        assert calls == shared.runs == 1
        clock.now += 0.9
        assert (await client.get("/readyz")).status_code == 200 and calls == 1
        clock.now += 0.2  # a second after the run ended: the next caller runs the probes again
        assert (await client.get("/readyz")).status_code == 200 and calls == 2


async def test_one_run_is_shared_and_a_caller_leaving_does_not_cancel_it() -> None:
    clock = FakeClock()
    shared: SharedRun[int] = SharedRun(ttl_s=1.0, clock=clock)
    gate = asyncio.Event()

    async def compute() -> int:
        await gate.wait()
        return shared.runs

    waiters = [asyncio.create_task(shared.get(compute)) for _ in range(10)]
    await asyncio.sleep(0)
    waiters[0].cancel()  # its client went away
    gate.set()
    assert await asyncio.gather(*waiters[1:]) == [1] * 9
    assert await shared.get(compute) == 1  # within ttl_s of the run's end: the same answer
    clock.now += 1.0
    assert await shared.get(compute) == 2


async def test_a_run_that_raised_is_not_kept() -> None:
    """A probe run that failed answers its own callers only: the next call runs again at once, instead of
    every /readyz failing for the rest of the second."""
    clock = FakeClock()
    shared: SharedRun[str] = SharedRun(clock=clock)
    outcomes = iter([RuntimeError("boom"), "ok"])

    async def flaky() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(RuntimeError):
        await shared.get(flaky)
    assert await shared.get(flaky) == "ok" and shared.runs == 2
    assert await shared.get(flaky) == "ok" and shared.runs == 2  # a good run is kept for its second
