"""Metadata patches are never lost: not to a re-ingest whose job read the metadata when it began (its
chunks end with the patched value), and not to a concurrent patch of another key (both survive, in the
registry and on the vectors). Each interleaving is forced by a hook in the real clients.

Real Redis, Chroma and compute, with in-process workers."""

import asyncio
import threading
from typing import Any

import httpx
import pytest

from orchestrator.catalog import merge_metadata
from orchestrator.clients import Clients
from orchestrator.ingest import metadata as metadata_module
from orchestrator.settings import Settings
from orchestrator.vectors import where_document
from tests.support.api import API, create_collection, ingest, running_app, search, wait_document

TEXT = (
    b"# Lighthouses\n\nThe keeper trimmed the lamp's wick every evening before the fog rolled in.\n\n"
    b"## Fog signals\n\nA foghorn sounded twice a minute whenever the far headland vanished.\n"
)
GUARD_S = 60  # a hang guard only: the steps are ordered by the hooks, never by time


async def _vector_metadata(clients: Clients, collection: str, document: dict[str, Any]) -> list[dict]:
    chroma = (await clients.registry.get_collection(collection)).vector_name
    where = where_document(document["id"], generation=document["generation"])
    records = await clients.vectors.get(chroma, where=where)
    assert len(records) == document["chunk_count"] > 0
    return [r.metadata for r in records]


async def _patch(api: httpx.AsyncClient, document_id: str, patch: dict[str, Any]) -> dict[str, Any]:
    response = await api.patch(f"{API}/documents/{document_id}", json={"metadata": patch})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_patch_during_a_reingest_is_on_the_chunks_it_commits(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(api_settings) as (app, api):
        await create_collection(api, "lights")
        document = await ingest(api, "lights", "lights.md", TEXT, metadata='{"team": "a"}')
        clients: Clients = app.state.clients
        real_upsert = clients.vectors.upsert
        patched: list[dict[str, Any]] = []

        async def patch_then_upsert(*args: Any, **kwargs: Any) -> None:
            # The re-ingest has begun (its job read team=a) and not committed: a patch lands now.
            if not patched:
                patched.append(await _patch(api, document["id"], {"team": "b"}))
            await real_upsert(*args, **kwargs)

        monkeypatch.setattr(clients.vectors, "upsert", patch_then_upsert)
        response = await api.post(f"{API}/documents/{document['id']}/reingest")
        assert response.status_code == 202, response.text
        after = await wait_document(api, document["id"], timeout_s=GUARD_S)
        monkeypatch.undo()

        assert patched and patched[0]["metadata"] == {"team": "b"}  # the hook ran mid-job
        assert after["status"] == "ready" and after["generation"] > document["generation"], after
        assert after["metadata"] == {"team": "b"}
        assert {m["team"] for m in await _vector_metadata(clients, "lights", after)} == {"b"}
        hits = await search(api, "foghorn on the headland", ["lights"], filters={"team": "b"})
        assert {h["document_id"] for h in hits} == {document["id"]}
        assert await search(api, "foghorn on the headland", ["lights"], filters={"team": "a"}) == []


async def test_two_concurrent_patches_of_different_keys_both_survive(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Patch A has read the document and merged when patch B runs from start to end (another process:
    its own thread, event loop and clients); then A writes."""
    async with running_app(api_settings) as (app, api):
        await create_collection(api, "lights")
        document = await ingest(api, "lights", "lights.md", TEXT, metadata='{"kept": true}')
        clients: Clients = app.state.clients
        b_done: list[dict[str, Any]] = []
        b_errors: list[BaseException] = []

        async def patch_b() -> None:
            other = Clients.build(clients.settings)
            try:
                updated = await metadata_module.patch_metadata(other, document["id"], {"b": 2})
                b_done.append(updated.metadata)
            finally:
                await other.close()

        def run_b() -> None:
            try:
                asyncio.run(patch_b())
            except BaseException as exc:
                b_errors.append(exc)

        def merge_then_let_b_run(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
            merged = merge_metadata(current, patch)
            if patch == {"a": 1} and not b_done and not b_errors:  # A's first merge: B goes now
                thread = threading.Thread(target=run_b)
                thread.start()
                thread.join(GUARD_S)
                assert not thread.is_alive(), "patch B hung"
            return merged

        monkeypatch.setattr(metadata_module, "merge_metadata", merge_then_let_b_run)
        a_result = await _patch(api, document["id"], {"a": 1})
        monkeypatch.undo()

        assert not b_errors, b_errors
        assert b_done == [{"kept": True, "b": 2}]  # B ran inside A's read-merge-write
        expected = {"kept": True, "a": 1, "b": 2}
        assert a_result["metadata"] == expected
        stored = (await api.get(f"{API}/documents/{document['id']}")).json()
        assert stored["metadata"] == expected
        for vector in await _vector_metadata(clients, "lights", stored):
            assert {k: vector.get(k) for k in expected} == expected, vector
