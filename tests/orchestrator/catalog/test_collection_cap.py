"""The registry's collection cap holds under concurrent creates: counted in the create's transaction."""

import asyncio

import pytest
from redis.asyncio import Redis

from orchestrator.catalog import Collection, CollectionStatus, Registry, TooManyCollections
from orchestrator.errors import OrchErrorCode


async def test_concurrent_creates_never_pass_the_cap(redis: Redis) -> None:
    registry = Registry(redis)
    outcomes = await asyncio.gather(
        *(registry.create_collection(Collection(name=f"c{i}"), max_collections=5) for i in range(40)),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, TooManyCollections) for o in refused), refused
    assert len(outcomes) - len(refused) == 5
    assert await registry.count_collections() == 5
    assert refused[0].code is OrchErrorCode.too_many_collections


async def test_deleting_collections_count_until_removed(redis: Redis) -> None:
    registry = Registry(redis)
    for name in ("a", "b"):
        await registry.create_collection(Collection(name=name), max_collections=2)
    await registry.update_collection("a", status=CollectionStatus.deleting)
    with pytest.raises(TooManyCollections):
        await registry.create_collection(Collection(name="c"), max_collections=2)
    await registry.remove_collection("a")
    await registry.create_collection(Collection(name="c"), max_collections=2)
    assert sorted(c.name for c in (await registry.list_collections()).items) == ["b", "c"]
