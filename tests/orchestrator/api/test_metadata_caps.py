"""Metadata caps as HTTP sees them: a collection's metadata follows the rule of a document's, and the
whole of either stays within MAX_METADATA_BYTES however many patches merge into it (422 invalid_metadata,
the stored record unchanged)."""

import json

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator.catalog import Registry
from orchestrator.vectors import MAX_METADATA_BYTES
from orchestrator.vectors.chunk_records import metadata_bytes
from tests.support import assert_error
from tests.support.api import API, create_collection, ingest, running_app, upload
from tests.support.blobs import staged_files

TEXT = b"# Harbour\n\nThe harbour crane lifts shipping containers at dawn.\n"
VALUE_CHARS = 3_000  # within the per-value cap: only the total stops the patches


def _patch_body(round_: int) -> dict:
    return {"metadata": {f"k{round_}-{i}": "v" * VALUE_CHARS for i in range(2)}}


async def _patch_until_refused(api: httpx.AsyncClient, path: str, read) -> tuple[int, dict]:
    """Patches two new 3,000-character keys at a time until one is refused; the accepted count and the
    stored metadata, read back from the registry after the refusal (unchanged by it)."""
    for round_ in range(20):  # 120,000 characters if nothing stopped them
        before = await read()
        response = await api.patch(path, json=_patch_body(round_))
        if response.status_code != 200:
            assert_error(response, 422, "invalid_metadata")
            assert str(MAX_METADATA_BYTES) in response.json()["error"]["message"]
            assert await read() == before
            # Refused for the merged whole only: what was stored fits, and so does the patch alone.
            assert metadata_bytes(before) <= MAX_METADATA_BYTES
            assert metadata_bytes({**before, **_patch_body(round_)["metadata"]}) > MAX_METADATA_BYTES
            return round_, before
    raise AssertionError("twenty patches of new keys were all accepted")


async def test_repeated_collection_patches_stop_at_the_cap(api: httpx.AsyncClient, redis: Redis) -> None:
    registry = Registry(redis)
    await create_collection(api, "grow", metadata={"owner": "ops"})

    async def read() -> dict:
        return (await registry.get_collection("grow")).metadata

    accepted, stored = await _patch_until_refused(api, f"{API}/collections/grow", read)
    assert accepted >= 1 and stored["owner"] == "ops"
    # Still refused on the next try; a patch that frees room first is the way on.
    assert_error(await api.patch(f"{API}/collections/grow", json=_patch_body(99)), 422, "invalid_metadata")
    room = {"k0-0": None, "k0-1": None, **_patch_body(99)["metadata"]}
    freed = await api.patch(f"{API}/collections/grow", json={"metadata": room})
    assert freed.status_code == 200, freed.text
    assert "k99-0" in (await read()) and "k0-0" not in (await read())


async def test_repeated_document_patches_stop_at_the_cap(api: httpx.AsyncClient, redis: Redis) -> None:
    registry = Registry(redis)
    await create_collection(api, "grow-docs")
    document = await ingest(api, "grow-docs", "a.md", TEXT, metadata=json.dumps({"team": "a"}))

    async def read() -> dict:
        return (await registry.get_document(document["id"])).metadata

    accepted, stored = await _patch_until_refused(api, f"{API}/documents/{document['id']}", read)
    assert accepted >= 1 and stored["team"] == "a"
    assert (await api.get(f"{API}/documents/{document['id']}")).json()["metadata"] == stored


async def test_collection_metadata_follows_the_document_rule_at_create(
    api: httpx.AsyncClient, redis: Redis
) -> None:
    refused = [
        {"document_id": "spoofed"},
        {"chroma:x": 1},
        {"long": "x" * 5000},
        {"deep": [[[[["five levels"]]]]]},
        {"null": None},
        {f"k{i}": i for i in range(65)},
        {f"k{i}": "v" * 4000 for i in range(5)},  # each value fits; the whole does not
    ]
    for metadata in refused:
        response = await api.post(f"{API}/collections", json={"name": "meta-create", "metadata": metadata})
        assert_error(response, 422, "invalid_metadata")
    assert_error(await api.get(f"{API}/collections/meta-create"), 404, "not_found")
    assert await Registry(redis).count_collections() == 0
    await create_collection(api, "meta-create", metadata={"owner": "ops", "tags": ["a", "b"]})
    for metadata in refused[:-2]:
        if "null" not in metadata:
            patch = await api.patch(f"{API}/collections/meta-create", json={"metadata": metadata})
            assert_error(patch, 422, "invalid_metadata")
    stored = (await Registry(redis).get_collection("meta-create")).metadata
    assert stored == {"owner": "ops", "tags": ["a", "b"]}


async def test_an_upload_whose_metadata_is_over_the_total_is_422(api: httpx.AsyncClient) -> None:
    await create_collection(api, "meta-total")
    metadata = json.dumps({f"k{i}": "v" * 4000 for i in range(5)})
    assert_error(await upload(api, "meta-total", "m.md", TEXT, metadata=metadata), 422, "invalid_metadata")
    assert staged_files() == []
    listed = await api.get(f"{API}/documents", params={"collection": "meta-total"})
    assert listed.json()["items"] == []


async def test_a_refused_replace_leaves_the_document_as_it_was(
    api_settings, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replace upload whose merged metadata is refused after its document was marked queued (a patch
    landed between its check and its merge: the check is skipped here to stand for that) answers 422 and
    leaves the document ready, searchable, with its metadata, and no job of its own."""
    import orchestrator.ingest.uploads as uploads

    registry = Registry(redis)
    async with running_app(api_settings) as (_, api):
        await create_collection(api, "replace-cap")
        document = await ingest(api, "replace-cap", "a.md", TEXT, metadata=json.dumps({"team": "a"}))
        before = await registry.get_document(document["id"])
        monkeypatch.setattr(uploads, "merged_metadata", lambda current, patch: {})
        big = {f"k{i}": "v" * VALUE_CHARS for i in range(8)}  # over MAX_METADATA_BYTES once merged
        response = await upload(
            api, "replace-cap", "a.md", TEXT, on_duplicate="replace", metadata=json.dumps(big)
        )
        assert_error(response, 422, "invalid_metadata")
        after = await registry.get_document(document["id"])
        assert after.status == "ready" and after.job_id == before.job_id and after.error is None
        assert after.metadata == before.metadata and after.generation == before.generation
