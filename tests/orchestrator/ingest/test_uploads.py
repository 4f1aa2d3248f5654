"""Uploads becoming documents (ingest.uploads), on a real stack: originals in the blob store (never in
Redis), streamed back, deleted with their document or once ready (ORCH_KEEP_ORIGINALS=false);
Idempotency-Keys bound to the request and to the API key, one job for concurrent repeats; accepted
metadata on the vectors; a Redis failure while registering leaves nothing behind."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from orchestrator.core import keys
from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, create_collection, ingest, running_app, search, upload, wait_document
from tests.support.blobs import original_path, originals, staged_files
from tests.support.job_queue import wait_until

# API keys as the API accepts them (32 characters at least, no placeholder).
KEY_ONE, KEY_TWO = "1" * 32 + "-uploads-one", "2" * 32 + "-uploads-two"
TEXT = b"# Harbour\n\nThe harbour crane lifts shipping containers at dawn.\n"


@pytest.fixture
async def keyed_api(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The API with two API keys; the client sends neither by itself."""
    settings = api_settings.model_copy(update={"api_keys": f"{KEY_ONE},{KEY_TWO}"})
    async with running_app(settings) as (_, client):
        yield client


def as_key(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def test_originals_live_in_the_blob_store_and_stream_back(api: httpx.AsyncClient, redis: Redis) -> None:
    await create_collection(api, "blobs")
    document = await ingest(api, "blobs", "harbour.md", TEXT)
    assert original_path(document["id"]).read_bytes() == TEXT
    download = await api.get(f"{API}/documents/{document['id']}/original")
    assert download.status_code == 200 and download.content == TEXT
    assert download.headers["content-length"] == str(len(TEXT))
    # Redis holds small records only: no key anywhere near the document's size.
    sizes = [await redis.memory_usage(key) or 0 async for key in redis.scan_iter(count=1000)]
    assert max(sizes) < 16 * 1024, max(sizes)
    assert staged_files() == []
    # Deleted with its document.
    assert (await api.delete(f"{API}/documents/{document['id']}")).status_code == 202
    await wait_gone(api, document["id"])
    assert not original_path(document["id"]).exists()


async def wait_gone(api: httpx.AsyncClient, document_id: str) -> None:
    for _ in range(600):
        if (await api.get(f"{API}/documents/{document_id}")).status_code == 404:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"document {document_id} not deleted")


async def test_without_kept_originals_the_blob_goes_once_ready(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"keep_originals": False})
    async with running_app(settings) as (_, api):
        await create_collection(api, "unkept")
        document = await ingest(api, "unkept", "harbour.md", TEXT)

        async def dropped() -> bool:  # the job drops it just after its commit made the document ready
            return not original_path(document["id"]).exists()

        await wait_until(dropped, what="the original to be dropped")
        assert_error(await api.get(f"{API}/documents/{document['id']}/original"), 409, "original_not_kept")
        assert_error(await api.post(f"{API}/documents/{document['id']}/reingest"), 409, "original_not_kept")
        # Uploading the same bytes again with on_duplicate=replace brings the original back for that job.
        again = await upload(api, "unkept", "harbour.md", TEXT, on_duplicate="replace")
        assert again.status_code == 202, again.text
        assert (await wait_document(api, document["id"]))["status"] == "ready"
        await wait_until(dropped, what="the original to be dropped again")


async def test_an_idempotency_key_binds_the_request(api: httpx.AsyncClient) -> None:
    await create_collection(api, "idem-bind")
    key = {"Idempotency-Key": "order-7"}
    first = await upload(api, "idem-bind", "a.md", TEXT, headers=key)
    same = await upload(api, "idem-bind", "a.md", TEXT, headers=key)
    assert first.status_code == same.status_code == 202
    assert same.json()["job_id"] == first.json()["job_id"]
    error = assert_error(
        await upload(api, "idem-bind", "b.md", b"# Other\n\nA different file.\n", headers=key),
        409,
        "idempotency_key_reused",
    )
    assert "another" in error["message"]
    # Other options with the same file are another request too.
    assert_error(
        await upload(api, "idem-bind", "a.md", TEXT, headers=key, metadata=json.dumps({"team": "x"})),
        409,
        "idempotency_key_reused",
    )
    # A key that looks like an internal one (the lock of `order-7`) is just another key.
    lock_like = await upload(
        api, "idem-bind", "c.md", b"# C\n\nThird file.\n", headers={"Idempotency-Key": "order-7:lock"}
    )
    assert lock_like.status_code == 202 and lock_like.json()["job_id"] != first.json()["job_id"]
    documents = (await api.get(f"{API}/documents", params={"collection": "idem-bind"})).json()["items"]
    assert len(documents) == 2
    assert staged_files() == []


async def test_idempotency_keys_are_scoped_to_the_api_key(keyed_api: httpx.AsyncClient) -> None:
    api = keyed_api
    response = await api.post(f"{API}/collections", json={"name": "idem-scope"}, headers=as_key(KEY_ONE))
    assert response.status_code == 201, response.text
    one = await upload(api, "idem-scope", "a.md", TEXT, headers=as_key(KEY_ONE, **{"Idempotency-Key": "k"}))
    # The other client's same key with its own file: its own upload, not a 409 and not the first's job.
    other = b"# Two\n\nThe second client's file.\n"
    two = await upload(api, "idem-scope", "b.md", other, headers=as_key(KEY_TWO, **{"Idempotency-Key": "k"}))
    assert one.status_code == two.status_code == 202, (one.text, two.text)
    assert one.json()["job_id"] != two.json()["job_id"]


async def test_accepted_metadata_reaches_the_vectors(api: httpx.AsyncClient) -> None:
    await create_collection(api, "meta-ok")
    metadata = {"team": "ops", "year": 2**63 - 1, "ratio": 0.5, "flag": True, "tags": ["a", "b"]}
    document = await ingest(api, "meta-ok", "ok.md", TEXT, metadata=json.dumps(metadata))
    assert document["metadata"] == metadata
    # The vectors carry it: Chroma filters on the largest int64.
    hits = await search(api, "harbour crane", ["meta-ok"], filters={"year": 2**63 - 1})
    assert [h["document_id"] for h in hits] == [document["id"]]


@pytest.mark.parametrize("failing", ["add_document", "enqueue"])
async def test_a_redis_failure_while_registering_leaves_nothing_behind(
    api_settings: Settings, redis: Redis, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """Redis fails after the original is committed (adding the document, or queueing its job): 503 with
    Retry-After, and no original, staged object, document or kept password remains."""
    async with running_app(api_settings.model_copy(update={"api_workers": 0})) as (app, api):
        await create_collection(api, "fragile")
        clients = app.state.clients
        target = clients.registry if failing == "add_document" else clients.queue
        real = getattr(target, failing)

        async def broken(*args: object, **kwargs: object) -> object:
            if failing == "add_document":
                await real(*args, **kwargs)  # the worst case: it was written, then the reply was lost
            raise RedisConnectionError("Redis went away")

        monkeypatch.setattr(target, failing, broken)
        before = originals()
        response = await upload(api, "fragile", "a.md", TEXT, password="hunter2-secret")
        assert assert_error(response, 503, "unavailable")["retryable"] is True
        assert "retry-after" in response.headers
        monkeypatch.undo()
        assert originals() == before
        assert staged_files() == []
        documents = (await api.get(f"{API}/documents", params={"collection": "fragile"})).json()["items"]
        assert documents == []
        assert await redis.hlen(keys.documents_by_sha256("fragile")) == 0
        assert not [key async for key in redis.scan_iter(match=keys.job_secret("*"))]
        # The same upload goes through once Redis is back: nothing of the first one is in its way.
        again = await upload(api, "fragile", "a.md", TEXT)
        assert again.status_code == 202, again.text


async def test_concurrent_repeats_of_one_key_get_one_job(api: httpx.AsyncClient, redis: Redis) -> None:
    await create_collection(api, "idem-race")
    key = {"Idempotency-Key": "race-1"}
    responses = await asyncio.gather(*(upload(api, "idem-race", "a.md", TEXT, headers=key) for _ in range(4)))
    assert [r.status_code for r in responses] == [202] * 4, [r.text for r in responses]
    answers = {(r.json()["document_id"], r.json()["job_id"]) for r in responses}
    assert len(answers) == 1, answers
    # Once the lock is released (none is left), a repeat still gets the same document and job.
    assert not [k async for k in redis.scan_iter(match=keys.idempotency_lock("*"))]
    later = await upload(api, "idem-race", "a.md", TEXT, headers=key)
    assert later.status_code == 202 and (later.json()["document_id"], later.json()["job_id"]) in answers
    documents = (await api.get(f"{API}/documents", params={"collection": "idem-race"})).json()["items"]
    assert len(documents) == 1
    assert staged_files() == []
