"""ORCH_MAX_COLLECTIONS as HTTP sees it: concurrent creates never pass the cap, a refused create leaves
nothing behind (registry and Chroma), and a collection being deleted holds its place until its job ends."""

import asyncio

from redis.asyncio import Redis

from orchestrator.catalog import Registry
from orchestrator.settings import Settings
from orchestrator.vectors import VectorStore
from tests.support import assert_error
from tests.support.api import API, create_collection, running_app, wait_job

CAP = 3


async def _chroma_names(chroma_url: str, prefix: str) -> set[str]:
    store = VectorStore(chroma_url)
    try:
        return {n for n in await store.list_collection_names() if n.startswith(prefix)}
    finally:
        await store.close()


async def test_parallel_creates_stop_at_the_cap(
    api_settings: Settings, redis: Redis, chroma_url: str
) -> None:
    settings = api_settings.model_copy(update={"max_collections": CAP, "collections_per_min": 0})
    async with running_app(settings) as (_, client):
        answers = await asyncio.gather(
            *(client.post(f"{API}/collections", json={"name": f"cap-par-{i}"}) for i in range(8))
        )
        created = [a for a in answers if a.status_code == 201]
        assert len(created) == CAP, [a.text for a in answers]
        for refused in (a for a in answers if a.status_code != 201):
            assert_error(refused, 409, "too_many_collections")
            assert refused.json()["error"]["retryable"] is False
        registry = Registry(redis)
        assert await registry.count_collections() == CAP
        kept = {c.json()["name"] for c in created}
        assert {c.name for c in (await registry.list_collections()).items} == kept
        # The losers' Chroma collections were deleted: only the registered ones remain.
        chroma_names = {(await registry.get_collection(n)).chroma_name for n in kept}
        assert await _chroma_names(chroma_url, "cap-par-") == chroma_names


async def test_a_collection_being_deleted_holds_its_place(
    api_settings: Settings, redis: Redis, chroma_url: str
) -> None:
    settings = api_settings.model_copy(
        update={
            "max_collections": 2,
            "collections_per_min": 0,
            "api_workers": 0,
        }  # no worker: no delete job runs
    )
    registry = Registry(redis)
    async with running_app(settings) as (_, client):
        await create_collection(client, "cap-del-a")
        await create_collection(client, "cap-del-b", metadata={"owner": "ops"})
        before = await registry.get_collection("cap-del-b")
        refused = await client.post(f"{API}/collections", json={"name": "cap-del-c", "metadata": {"x": 1}})
        assert_error(refused, 409, "too_many_collections")
        deleted = await client.delete(f"{API}/collections/cap-del-a")
        assert deleted.status_code == 202
        assert_error(
            await client.post(f"{API}/collections", json={"name": "cap-del-c"}), 409, "too_many_collections"
        )
        # Nothing changed on refusal: no record, no Chroma collection, the others as they were.
        assert_error(await client.get(f"{API}/collections/cap-del-c"), 404, "not_found")
        assert await registry.count_collections() == 2
        assert await registry.get_collection("cap-del-b") == before
        assert await _chroma_names(chroma_url, "cap-del-c") == set()
    # Once its delete job has run, the place is free.
    async with running_app(
        api_settings.model_copy(update={"max_collections": 2, "collections_per_min": 0})
    ) as (
        _,
        client,
    ):
        await wait_job(client, deleted.json()["job_id"])
        await create_collection(client, "cap-del-c")
        assert await registry.count_collections() == 2
