"""The reconciler: stale vectors (no document, an old or failed generation) are never served by search,
and are deleted once past the grace period, on demand and periodically; documents stuck behind a job that
ended are failed; a dead ingest job can be replayed."""

import os
import time
from pathlib import Path

import httpx
import respx

from orchestrator.catalog.model import DocumentStatus
from orchestrator.ingest import reconciler
from orchestrator.jobs import JobType
from orchestrator.settings import Settings
from orchestrator.vectors import VectorStore, vector_id
from tests.support import assert_error
from tests.support.api import (
    API,
    create_collection,
    ingest,
    running_app,
    search,
    upload,
    wait_document,
    wait_job,
)
from tests.support.job_queue import wait_until
from tests.support.vectors import plant_vector


async def test_stale_vectors_are_never_served_and_are_deleted_after_the_grace_period(
    api: httpx.AsyncClient, chroma_url: str
) -> None:
    collection = await create_collection(api, "recon")
    document = await ingest(api, "recon", "r.md", b"# R\n\nMarmots whistle to warn each other of eagles.\n")
    chroma = collection["chroma_name"]
    store = VectorStore(chroma_url)
    try:
        await plant_vector(store, chroma, "ghost-document", 1, "Marmots whistle loudly at eagles.")
        await plant_vector(
            store, chroma, document["id"], 7, "Marmots whistle to warn of eagles, old version."
        )
        results = await search(api, "marmots whistling at eagles", ["recon"], top_k=10)
        assert [r["chunk_id"] for r in results] == [vector_id(document["id"], 1, 0)]

        young = (await api.post(f"{API}/admin/reconcile")).json()  # default grace: 10 minutes
        assert young["vectors_deleted"] == 0 and young["vectors_in_grace"] == 2
        report = (await api.post(f"{API}/admin/reconcile", params={"grace_s": 0})).json()
        assert report["vectors_deleted"] == 2 and report["collections_checked"] == 1
        assert report["vectors_checked"] == document["chunk_count"] + 2
        remaining = await store.get(
            chroma, where={"document_id": {"$in": ["ghost-document", document["id"]]}}
        )
        assert [r.id for r in remaining] == [vector_id(document["id"], 1, 0)]
    finally:
        await store.close()


async def test_the_periodic_reconciler_runs_in_the_api_process(
    api_settings: Settings, chroma_url: str
) -> None:
    settings = api_settings.model_copy(update={"reconcile_interval_s": 0.2, "reconcile_grace_s": 0})
    async with running_app(settings) as (_, client):
        collection = await create_collection(client, "periodic")
        store = VectorStore(chroma_url)
        try:
            await plant_vector(store, collection["chroma_name"], "ghost", 1, "nobody owns this")

            async def gone() -> bool:
                return await store.count(collection["chroma_name"]) == 0

            await wait_until(gone, timeout_s=20, what="the periodic reconciler to delete the orphan")
        finally:
            await store.close()


async def test_a_document_stuck_behind_an_ended_job_is_settled(api_settings: Settings, queue) -> None:
    settings = api_settings.model_copy(update={"api_workers": 0})
    async with running_app(settings) as (_, client):
        await create_collection(client, "stuck")
        response = await upload(client, "stuck", "s.md", b"# S\n\nStuck.\n")
        # Its job ends behind the API's back (as when its workers die on every attempt and it is
        # dead-lettered without its handler running): the document is left `queued`.
        await queue.cancel(response.json()["job_id"])
        assert (await client.get(f"{API}/documents/{response.json()['document_id']}")).json()[
            "status"
        ] == "queued"
        report = (await client.post(f"{API}/admin/reconcile")).json()
        assert report["documents_failed"] == 1
        document = (await client.get(f"{API}/documents/{response.json()['document_id']}")).json()
        assert document["status"] == DocumentStatus.cancelled and document["generation"] == 0
        assert (await client.post(f"{API}/admin/reconcile")).json()["documents_failed"] == 0


async def test_a_dead_ingest_job_is_replayed_from_the_dlq(api_settings: Settings, compute_url: str) -> None:
    async with running_app(api_settings) as (_, client):
        await create_collection(client, "replay")
        with respx.mock(assert_all_called=False) as mock:
            mock.post(f"{compute_url}/embed").mock(return_value=httpx.Response(503))
            mock.route().pass_through()
            response = await upload(
                client, "replay", "r.md", b"# R\n\nReindeer pull sleds across the tundra.\n"
            )
            job = await wait_job(client, response.json()["job_id"])
        assert job["status"] == "dead" and job["dead_reason"] == "retries_exhausted"
        document = await wait_document(client, response.json()["document_id"])
        assert document["status"] == "failed" and document["error"]["code"] == "compute_unavailable"
        letters = (await client.get(f"{API}/dlq")).json()["items"]
        assert [letter["job_id"] for letter in letters] == [job["id"]]
        queue_stats = (await client.get(f"{API}/queue")).json()
        assert queue_stats["dead"] == 1 and queue_stats["workers"]

        replayed = await client.post(f"{API}/dlq/{job['id']}/replay")
        assert replayed.status_code == 200, replayed.text
        assert (await wait_job(client, job["id"]))["status"] == "succeeded"
        document = await wait_document(client, document["id"], {"ready"})
        # Every attempt takes a generation of its own: four deliveries, then the replay.
        assert document["generation"] == api_settings.max_deliveries + 1 and document["error"] is None
        assert (await search(client, "reindeer sleds", ["replay"]))[0]["document_id"] == document["id"]
        assert (await client.get(f"{API}/dlq")).json()["items"] == []
        assert_error(await client.delete(f"{API}/dlq/{job['id']}"), 409, "illegal_transition")


async def test_a_dead_letter_can_be_purged(api_settings: Settings, compute_url: str) -> None:
    async with running_app(api_settings) as (_, client):
        await create_collection(client, "purge")
        with respx.mock(assert_all_called=False) as mock:
            mock.post(f"{compute_url}/parse").mock(return_value=httpx.Response(503))
            mock.route().pass_through()
            response = await upload(client, "purge", "p.md", b"# P\n\nPurged.\n")
            job = await wait_job(client, response.json()["job_id"])
        assert job["status"] == "dead"
        assert (await client.delete(f"{API}/dlq/{job['id']}")).status_code == 204
        assert (await client.get(f"{API}/dlq")).json()["items"] == []
        assert (await client.get(f"{API}/queue")).json()["dead"] == 0
        assert (await client.get(f"{API}/jobs/{job['id']}")).json()["status"] == "dead"


async def test_a_collection_is_reconciled_a_page_at_a_time(
    api: httpx.AsyncClient, chroma_url: str, monkeypatch
) -> None:
    # Pages of two records: the stale ones are found on every page and deleted only after the scan, so
    # no record shifts past a page still to be read.
    monkeypatch.setattr(reconciler, "PAGE", 2)
    collection = await create_collection(api, "paged")
    document = await ingest(api, "paged", "p.md", b"# P\n\nPuffins nest in burrows on cliff tops.\n")
    store = VectorStore(chroma_url)
    try:
        for i in range(5):
            await plant_vector(store, collection["chroma_name"], f"ghost-{i}", 1, f"ghost text {i}")
        report = (await api.post(f"{API}/admin/reconcile", params={"grace_s": 0})).json()
        assert (report["vectors_checked"], report["vectors_deleted"]) == (document["chunk_count"] + 5, 5)
        remaining = await store.get(collection["chroma_name"])
        assert {(r.metadata or {})["document_id"] for r in remaining} == {document["id"]}
    finally:
        await store.close()


async def test_search_looks_past_many_stale_vectors(
    api: httpx.AsyncClient, chroma_url: str, compute_url: str, compute_token: str
) -> None:
    # 60 vectors no document vouches for, each exactly the query's own embedding: they fill the first
    # fetch (3 x top_k + 10 = 25) and the next, so only a widening search reaches the real chunk.
    collection = await create_collection(api, "crowded")
    document = await ingest(api, "crowded", "c.md", b"# C\n\nCormorants dry their wings in the sun.\n")
    query = "cormorants drying wings"
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {compute_token}"}) as compute:
        answer = await compute.post(f"{compute_url}/embed", json={"texts": [query], "kind": "query"})
    vector = answer.raise_for_status().json()["embeddings"][0]
    store = VectorStore(chroma_url)
    try:
        for i in range(60):
            await plant_vector(
                store, collection["chroma_name"], f"ghost-{i}", 1, f"stale {i}", embedding=vector
            )
        results = await search(api, query, ["crowded"], top_k=5)
        assert [r["document_id"] for r in results] == [document["id"]] * document["chunk_count"]
        assert await search(api, query, ["crowded"], top_k=5, mode="dense", min_score=0.99) == []
    finally:
        await store.close()


async def test_originals_of_no_document_and_not_kept_ones_are_swept(api_settings: Settings) -> None:
    originals = Path(api_settings.blob_url) / "originals"
    orphan = "0" * 24  # kept by an upload whose process died before it registered the document
    originals.mkdir(parents=True, exist_ok=True)
    (originals / orphan).write_bytes(b"bytes of no document")
    fresh = "1" * 24  # an upload between keeping its original and registering the document: left alone
    (originals / fresh).write_bytes(b"an upload in flight")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(originals / orphan, (two_hours_ago, two_hours_ago))
    settings = api_settings.model_copy(update={"keep_originals": False, "api_workers": 0})
    async with running_app(api_settings) as (_, client):
        await create_collection(client, "kept")
        document = await ingest(client, "kept", "k.md", b"# K\n\nBeavers build dams of sticks and mud.\n")
    assert (originals / document["id"]).exists()  # kept: ORCH_KEEP_ORIGINALS is true there
    async with running_app(settings) as (_, client):
        report = (await client.post(f"{API}/admin/reconcile")).json()
        assert report["originals_removed"] == 2, report
        assert not (originals / orphan).exists() and not (originals / document["id"]).exists()
        assert (originals / fresh).exists()
        download = await client.get(f"{API}/documents/{document['id']}/original")
        assert_error(download, 409, "original_not_kept")
    (originals / fresh).unlink()


async def test_parse_windows_of_ended_jobs_are_swept_and_a_delete_removes_its_own(
    api_settings: Settings, queue
) -> None:
    windows = Path(api_settings.blob_url) / "windows"

    def keep(document_id: str, job_id: str) -> Path:
        run = windows / document_id / job_id
        run.mkdir(parents=True, exist_ok=True)
        (run / "000000").write_text("{}")
        return run

    # No worker runs in the first app: one job stays queued (a retry of it may resume), one is cancelled.
    running = await queue.enqueue(JobType.reconcile, {})
    ended = await queue.enqueue(JobType.reconcile, {})
    await queue.cancel(ended.job.id)
    live, gone, of_ended = (
        keep("a" * 24, running.job.id),
        keep("b" * 24, "c" * 24),
        keep("a" * 24, ended.job.id),
    )
    settings = api_settings.model_copy(update={"api_workers": 0})
    async with running_app(settings) as (_, client):
        report = (await client.post(f"{API}/admin/reconcile")).json()
        assert report["window_runs_removed"] == 2, report
        assert live.exists() and not gone.exists() and not of_ended.exists()
    async with running_app(api_settings) as (_, client):
        # A document's delete removes every job's windows of it, with its original.
        await create_collection(client, "windowed")
        document = await ingest(client, "windowed", "w.md", b"# W\n\nWalruses haul out on the ice floes.\n")
        left = keep(document["id"], running.job.id)
        response = await client.delete(f"{API}/documents/{document['id']}")
        assert response.status_code == 202, response.text
        await wait_job(client, response.json()["job_id"])
    assert not left.exists() and not (windows / document["id"]).exists()
