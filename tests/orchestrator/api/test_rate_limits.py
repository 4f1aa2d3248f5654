"""Rate limits: a moving 60 s window kept in Redis, so no client gets more than its limit in any 60 s, a
fixed window's boundary included; per API key, or per address in dev mode whatever Bearer string comes
with the request; on collection creation and reconcile rounds too; Redis away answers 503, never 500."""

import secrets
import time
from typing import Any

import httpx
from redis.asyncio import Redis

from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, create_collection, ingest, running_app, stack_settings, wait_document
from tests.support.redis_server import RedisServer

KEY_A, KEY_B = secrets.token_hex(24), secrets.token_hex(24)


def _settings(redis_url: str, chroma_url: str, **overrides: Any) -> Settings:
    # No compute, no workers: creating collections and reconciling an empty stack never reach them.
    return stack_settings(
        redis_url, chroma_url, "http://127.0.0.1:9", secrets.token_hex(20), api_workers=0, **overrides
    )


async def _reconcile(client: httpx.AsyncClient, **kw: Any) -> httpx.Response:
    return await client.post(f"{API}/admin/reconcile", **kw)


class SteppedClock:
    """time.time() that moves only when told: the limiter's timestamps land where the test puts them."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_no_client_gets_more_than_its_limit_across_a_minute_boundary(
    redis: Redis, settings: Settings, chroma_url: str, monkeypatch: Any
) -> None:
    app_settings = _settings(settings.redis_url, chroma_url, reconciles_per_min=3)
    async with running_app(app_settings) as (_, client):
        boundary = (time.time() // 60 + 1) * 60  # where a fixed one-minute window starts afresh
        clock = SteppedClock(0.0)
        monkeypatch.setattr(time, "time", clock)
        rounds = []
        for before_s in (3, 2, 1):  # the limit's worth, in the last seconds of one fixed window
            clock.now = boundary - before_s
            rounds.append((await _reconcile(client)).json()["started_at_ms"])
        clock.now = boundary + 1  # the next fixed window, but the same 60 s as those three
        refused = await _reconcile(client)
        assert assert_error(refused, 429, "rate_limited")["retryable"] is True
        assert refused.headers["retry-after"] == "56"  # when the oldest of the three leaves the window
        # The refused request ran nothing: the kept report is still the third round's.
        assert (await client.get(f"{API}/admin/reconcile")).json()["started_at_ms"] == rounds[-1]
        clock.now = boundary - 3 + 60.5  # the first one is older than 60 s now: one place is free
        assert (await _reconcile(client)).status_code == 200
        assert_error(await _reconcile(client), 429, "rate_limited")


async def test_dev_mode_limits_the_address_whatever_the_bearer_string(
    redis: Redis, settings: Settings, chroma_url: str
) -> None:
    app_settings = _settings(settings.redis_url, chroma_url, reconciles_per_min=2)
    async with running_app(app_settings) as (_, client):
        for i in range(2):
            assert (
                await _reconcile(client, headers={"Authorization": f"Bearer rotated-{i}"})
            ).status_code == 200
        refused = await _reconcile(client, headers={"Authorization": "Bearer rotated-2"})
        assert_error(refused, 429, "rate_limited")
        assert_error(await _reconcile(client), 429, "rate_limited")


async def test_with_keys_each_key_has_its_own_budget(
    redis: Redis, settings: Settings, chroma_url: str
) -> None:
    app_settings = _settings(
        settings.redis_url, chroma_url, env="prod", api_keys=f"{KEY_A},{KEY_B}", reconciles_per_min=1
    )
    a, b = {"Authorization": f"Bearer {KEY_A}"}, {"Authorization": f"Bearer {KEY_B}"}
    async with running_app(app_settings) as (_, client):
        assert (await _reconcile(client, headers=a)).status_code == 200
        refused = await _reconcile(client, headers=a)
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["retry-after"]) >= 1
        assert (await _reconcile(client, headers=b)).status_code == 200


async def test_collection_creation_is_rate_limited(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"collections_per_min": 2, "api_workers": 0})
    async with running_app(settings) as (_, client):
        for name in ("made-0", "made-1"):
            assert (await client.post(f"{API}/collections", json={"name": name})).status_code == 201
        refused = await client.post(f"{API}/collections", json={"name": "refused"})
        assert assert_error(refused, 429, "rate_limited")["retryable"] is True
        listed = (await client.get(f"{API}/collections")).json()["items"]
        assert sorted(c["name"] for c in listed) == ["made-0", "made-1"]
        assert (await client.get(f"{API}/collections/refused")).status_code == 404


async def test_redis_away_makes_the_limiter_answer_503(
    own_redis_server: RedisServer, chroma_url: str
) -> None:
    app_settings = _settings(own_redis_server.url, chroma_url, reconciles_per_min=5, redis_pool_timeout_s=1)
    async with running_app(app_settings) as (_, client):
        own_redis_server.stop()
        refused = await _reconcile(client)
        assert assert_error(refused, 503, "unavailable")["retryable"] is True
        assert refused.headers["retry-after"]


async def test_requests_that_queue_an_ingest_count_with_uploads(api_settings: Settings) -> None:
    """Re-ingest, job retry, dead-letter replay and document patch each queue work or rewrite vectors:
    they share the upload budget, so none of them is a way around it. A refused one changes nothing."""
    settings = api_settings.model_copy(update={"uploads_per_min": 4})
    async with running_app(settings) as (_, client):
        await create_collection(client, "budget")
        document = await ingest(client, "budget", "a.md", b"# A\n\nThe harbour crane.\n")  # 1 of 4
        path = f"{API}/documents/{document['id']}"
        assert (await client.patch(path, json={"metadata": {"k": "v"}})).status_code == 200  # 2
        assert (await client.post(f"{path}/reingest")).status_code == 202  # 3
        await wait_document(client, document["id"])
        assert (await client.patch(path, json={"metadata": {"k": "w"}})).status_code == 200  # 4
        for refused in (
            await client.patch(path, json={"metadata": {"k": "x"}}),
            await client.post(f"{path}/reingest"),
            await client.post(f"{API}/jobs/{document['job_id']}/retry"),
            await client.post(f"{API}/dlq/{document['job_id']}/replay"),
        ):
            assert_error(refused, 429, "rate_limited")
        after = (await client.get(path)).json()
        assert after["metadata"] == {"k": "w"} and after["status"] == "ready"
