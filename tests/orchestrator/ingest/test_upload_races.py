"""Duplicate detection is atomic: two concurrent uploads of the same bytes, forced to interleave so that
both have passed the up-front duplicate check before either registers, leave one document and one job;
the other upload follows its `on_duplicate` against the one that won and leaves no original behind.

Real Redis, Chroma, compute and blob store; no worker runs, so every job stays where the test left it."""

import asyncio
import hashlib

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, create_collection, running_app, upload
from tests.support.blobs import original_path, originals, staged_files

TEXT = b"# Twins\n\nTwo uploads of these very bytes arrive at the same moment.\n"
SHA256 = hashlib.sha256(TEXT).hexdigest()
GUARD_S = 30  # a hang guard only: the steps are ordered by events, never by time


@pytest.fixture
def quiet_settings(api_settings: Settings) -> Settings:
    """A real stack with no worker: jobs stay queued (compute only sees the collection's probe)."""
    return api_settings.model_copy(update={"api_workers": 0})


async def _state(api: httpx.AsyncClient, collection: str) -> tuple[list[str], list[dict]]:
    documents = (await api.get(f"{API}/documents", params={"collection": collection})).json()["items"]
    jobs = (await api.get(f"{API}/jobs", params={"collection": collection})).json()["items"]
    return [d["id"] for d in documents], jobs


@pytest.mark.parametrize("policy", ["reject", "skip"])
async def test_two_identical_uploads_at_once_make_one_document(
    quiet_settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    async with running_app(quiet_settings) as (app, api):
        await create_collection(api, "twins")
        registry = app.state.clients.registry
        real_find = registry.find_by_sha256
        looked: list[object] = []
        both_looked = asyncio.Event()

        async def find_then_wait(*args: object, **kwargs: object) -> object:
            # Both uploads find no duplicate before either registers its document.
            found = await real_find(*args, **kwargs)
            looked.append(found)
            if len(looked) == 2:
                both_looked.set()
            async with asyncio.timeout(GUARD_S):
                await both_looked.wait()
            return found

        monkeypatch.setattr(registry, "find_by_sha256", find_then_wait)
        before = originals()
        responses = await asyncio.gather(
            *(upload(api, "twins", "twin.md", TEXT, on_duplicate=policy) for _ in range(2))
        )
        monkeypatch.undo()
        assert looked == [None, None]  # the interleaving happened: neither saw the other up front

        accepted = [r for r in responses if r.status_code == 202]
        assert len(accepted) == 1, [r.text for r in responses]
        (other,) = [r for r in responses if r is not accepted[0]]
        winner = accepted[0].json()
        if policy == "reject":
            error = assert_error(other, 409, "duplicate")
            assert error["document_id"] == winner["document_id"]
        else:
            assert other.status_code == 200, other.text
            assert other.json()["document_id"] == winner["document_id"] and other.json()["duplicate"]

        document_ids, jobs = await _state(api, "twins")
        assert document_ids == [winner["document_id"]]
        assert [j["id"] for j in jobs] == [winner["job_id"]]
        assert originals() - before == {winner["document_id"]}  # the refused upload left none
        assert staged_files() == []
        assert await redis.hget(keys.documents_by_sha256("twins"), SHA256) == winner["document_id"]


async def test_a_replace_that_lost_the_race_reingests_the_winner(
    quiet_settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The winner is settled (its job cancelled) and its original gone before the loser registers: the
    loser's replace re-ingests the winner from the loser's bytes, and keeps no original of its own."""
    async with running_app(quiet_settings) as (app, api):
        await create_collection(api, "twins")
        clients = app.state.clients
        real_find, real_add = clients.registry.find_by_sha256, clients.registry.add_document
        looked: list[object] = []
        both_looked, winner_settled = asyncio.Event(), asyncio.Event()
        adds = 0

        async def find_then_wait(*args: object, **kwargs: object) -> object:
            found = await real_find(*args, **kwargs)
            looked.append(found)
            if len(looked) == 2:
                both_looked.set()
            async with asyncio.timeout(GUARD_S):
                await both_looked.wait()
            return found

        async def add_second_after_the_winner_settled(*args: object, **kwargs: object) -> object:
            nonlocal adds
            adds += 1
            if adds == 2:
                async with asyncio.timeout(GUARD_S):
                    await winner_settled.wait()
            return await real_add(*args, **kwargs)

        monkeypatch.setattr(clients.registry, "find_by_sha256", find_then_wait)
        monkeypatch.setattr(clients.registry, "add_document", add_second_after_the_winner_settled)
        before = originals()
        tasks = [
            asyncio.create_task(upload(api, "twins", "twin.md", TEXT, on_duplicate="replace"))
            for _ in range(2)
        ]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        first_task = done.pop()
        first = first_task.result()
        assert first.status_code == 202, first.text
        winner = first.json()
        cancelled = await api.post(f"{API}/jobs/{winner['job_id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        await clients.blobs.delete(winner["document_id"])  # as ORCH_KEEP_ORIGINALS=false would
        winner_settled.set()
        second = await next(t for t in tasks if t is not first_task)
        monkeypatch.undo()

        assert second.status_code == 202, second.text
        assert second.json()["document_id"] == winner["document_id"] and second.json()["duplicate"]
        document_ids, jobs = await _state(api, "twins")
        assert document_ids == [winner["document_id"]]
        assert {j["id"] for j in jobs} == {winner["job_id"], second.json()["job_id"]}
        document = (await api.get(f"{API}/documents/{winner['document_id']}")).json()
        assert document["status"] == "queued" and document["job_id"] == second.json()["job_id"]
        assert originals() - before == {winner["document_id"]}
        assert original_path(winner["document_id"]).read_bytes() == TEXT
        assert staged_files() == []
