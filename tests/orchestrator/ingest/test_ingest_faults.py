"""Faults during ingestion: compute failing (respx injects them in front of the real service), Chroma
stopping in the middle of an upsert, a worker killed in the middle of embedding, a cancel. After each,
the invariants hold: search only returns chunks of documents ready at that generation, and no vector is
left that the registry does not vouch for (after the reconciler)."""

import asyncio
import os
import signal
import subprocess
import sys

import httpx
import respx

from orchestrator.settings import Settings
from orchestrator.vectors import VectorStore
from tests.support.api import (
    API,
    create_collection,
    ingest,
    long_markdown,
    running_app,
    search,
    upload,
    wait_document,
    wait_job,
)
from tests.support.job_queue import FAST, REPO, wait_until


async def vectors_of(chroma_url: str, chroma_name: str, document_id: str) -> list:
    store = VectorStore(chroma_url)
    try:
        return await store.get(chroma_name, where={"document_id": document_id})
    finally:
        await store.close()


def pass_through_everything_else(mock: respx.MockRouter) -> None:
    mock.route().pass_through()


async def test_compute_503_twice_then_200_succeeds_with_3_attempts_on_that_step(
    api_settings: Settings, compute_url: str
) -> None:
    answers: list[int] = []

    def flaky(request: httpx.Request):
        # (respx resolves a passed-through request once more on its way to the network: count only ours)
        if answers.count(503) < 2:
            answers.append(503)
            return httpx.Response(503, headers={"Retry-After": "0"})
        answers.append(200)
        return request

    async with running_app(api_settings) as (_, client):
        await create_collection(client, "flaky")
        with respx.mock(assert_all_called=False) as mock:
            mock.post(f"{compute_url}/parse").mock(side_effect=flaky)
            pass_through_everything_else(mock)
            response = await upload(
                client, "flaky", "f.md", b"# F\n\nPelicans scoop fish with their beaks.\n"
            )
            job = await wait_job(client, response.json()["job_id"])
        assert job["status"] == "succeeded", job
        assert job["attempts"] == 1
        # That step took 3 attempts: two 503s, then the real service's answer.
        assert answers[:3] == [503, 503, 200]
        results = await search(client, "pelican catching fish", ["flaky"])
        assert results[0]["document_id"] == response.json()["document_id"]


async def test_compute_422_fails_the_document_with_its_code_and_leaves_no_vector(
    api_settings: Settings, compute_url: str, chroma_url: str
) -> None:
    rejected = httpx.Response(
        422, json={"error": {"code": "corrupt_document", "message": "cannot read it", "retryable": False}}
    )
    async with running_app(api_settings) as (_, client):
        collection = await create_collection(client, "rejects")
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post(f"{compute_url}/parse").mock(return_value=rejected)
            pass_through_everything_else(mock)
            response = await upload(client, "rejects", "bad.md", b"# Bad\n\nNot really bad.\n")
            document = await wait_document(client, response.json()["document_id"])
            job = await wait_job(client, response.json()["job_id"])
        assert route.call_count == 1  # a 422 is never retried
        assert document["status"] == "failed"
        assert document["error"]["code"] == "corrupt_document"
        assert document["generation"] == 0
        assert job["status"] == "failed" and job["error"]["code"] == "corrupt_document"
        assert await vectors_of(chroma_url, collection["chroma_name"], document["id"]) == []
        assert await search(client, "really bad", ["rejects"]) == []

        # Compute fixed: the failed job is retried and the document becomes ready.
        retried = await client.post(f"{API}/jobs/{job['id']}/retry")
        assert retried.status_code == 200 and retried.json()["status"] in ("queued", "running", "succeeded")
        assert (await wait_job(client, job["id"]))["status"] == "succeeded"
        document = await wait_document(client, document["id"], {"ready"})
        # The retry's attempt took a generation of its own (the failed attempt had taken 1).
        assert document["generation"] == 2 and document["error"] is None
        assert (await search(client, "really bad", ["rejects"]))[0]["document_id"] == document["id"]


async def test_chroma_stopping_mid_upsert_leaves_the_previous_generation_searchable(
    api_settings: Settings, own_chroma_server
) -> None:
    settings = api_settings.model_copy(update={"chroma_url": own_chroma_server.url, "embed_batch_texts": 2})
    data = b"".join(
        f"# Part {i}\n\nThe lighthouse keeper number {i} polished the great lens every evening.\n\n".encode()
        for i in range(6)
    )
    async with running_app(settings) as (app, client):
        collection = await create_collection(client, "outage", chunking={"strategy": "markdown"})
        document = await ingest(client, "outage", "l.md", data)
        assert document["chunk_count"] >= 4

        vectors = app.state.clients.vectors
        original = vectors.upsert
        second_generation_batches = []

        async def upsert(chroma_name, ids, *args, **kwargs):
            if ids and ids[0].split(":")[1] == "2":
                second_generation_batches.append(ids)
                if len(second_generation_batches) == 2:
                    await asyncio.to_thread(own_chroma_server.stop)  # Chroma goes away mid-upsert
            return await original(chroma_name, ids, *args, **kwargs)

        vectors.upsert = upsert
        response = await client.post(f"{API}/documents/{document['id']}/reingest")
        assert response.status_code == 202
        job = await wait_job(client, response.json()["job_id"])
        assert job["status"] in ("dead", "failed"), job
        after = (await client.get(f"{API}/documents/{document['id']}")).json()
        assert after["status"] == "failed" and after["generation"] == 1
        assert after["error"]["code"] == "vector_store_unavailable"

        await asyncio.to_thread(own_chroma_server.start)

        async def ready() -> bool:  # a lexical index that met the outage mid-apply catches up first
            return (await client.get("/readyz")).status_code == 200

        await wait_until(ready, what="the API ready again after the outage")
        results = await search(client, "lighthouse keeper polishing the lens", ["outage"])
        assert results and {r["chunk_id"].split(":")[1] for r in results} == {"1"}
        report = (await client.post(f"{API}/admin/reconcile", params={"grace_s": 0})).json()
        assert report["vectors_deleted"] >= 2  # the batch that made it before the outage
        left = await vectors_of(own_chroma_server.url, collection["chroma_name"], document["id"])
        assert {r.metadata["generation"] for r in left} == {1}
        assert len(left) == document["chunk_count"]


def _worker(settings: Settings, worker_id: str, log_path) -> subprocess.Popen:
    env = {
        **os.environ,
        **{f"ORCH_{name.upper()}": str(value) for name, value in FAST.items()},
        "ORCH_REDIS_URL": settings.redis_url,
        "ORCH_CHROMA_URL": settings.chroma_url,
        "ORCH_COMPUTE_URLS": ",".join(settings.compute_urls),
        "ORCH_COMPUTE_TOKEN": settings.compute_token.get_secret_value() if settings.compute_token else "",
        "ORCH_EMBED_BATCH_TEXTS": "2",
        "ORCH_BLOB_URL": settings.blob_url,  # the originals the API process stored
    }
    env.pop("ORCH_HANDLERS", None)
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "worker", "--worker-id", worker_id, "--concurrency", "1"],
        cwd=REPO,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def test_worker_killed_mid_embedding_is_reclaimed_without_duplicates(
    api_settings: Settings, chroma_url: str, tmp_path
) -> None:
    settings = api_settings.model_copy(update={"api_workers": 0})
    async with running_app(settings) as (_, client):
        collection = await create_collection(
            client, "killed", chunking={"strategy": "markdown", "max_tokens": 64}
        )
        response = await upload(client, "killed", "long.md", long_markdown(12))
        job_id, document_id = response.json()["job_id"], response.json()["document_id"]
        first = _worker(settings, "doomed", tmp_path / "doomed.log")
        second = None
        try:

            async def embedding_half_done() -> bool:
                job = (await client.get(f"{API}/jobs/{job_id}")).json()
                progress = job.get("progress") or {}
                return (
                    job.get("stage") == "embed"
                    and 4 <= progress.get("done", 0) < (progress.get("total") or 0) - 4
                )

            await wait_until(embedding_half_done, timeout_s=120, what="the embedding to be under way")
            first.send_signal(signal.SIGKILL)
            first.wait()
            second = _worker(settings, "rescuer", tmp_path / "rescuer.log")
            job = await wait_job(client, job_id, timeout_s=180)
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.terminate()
                    process.wait(20)
        assert job["status"] == "succeeded", job
        assert job["attempts"] == 2 and job["worker"] == "rescuer"
        document = await wait_document(client, document_id)
        # The rescuer's attempt wrote generation 2; the doomed one's half of generation 1 is gone.
        assert document["status"] == "ready" and document["generation"] == 2
        stored = await vectors_of(chroma_url, collection["chroma_name"], document_id)
        ids = [r.id for r in stored]
        assert len(ids) == len(set(ids)) == document["chunk_count"]
        assert sorted(r.metadata["chunk_index"] for r in stored) == list(range(document["chunk_count"]))


async def test_cancel_mid_ingest_rolls_back(api_settings: Settings, chroma_url: str) -> None:
    settings = api_settings.model_copy(update={"embed_batch_texts": 2})
    async with running_app(settings) as (_, client):
        collection = await create_collection(
            client, "cancels", chunking={"strategy": "markdown", "max_tokens": 64}
        )
        response = await upload(client, "cancels", "long.md", long_markdown(12))
        job_id, document_id = response.json()["job_id"], response.json()["document_id"]

        async def embedding() -> bool:
            job = (await client.get(f"{API}/jobs/{job_id}")).json()
            return job.get("stage") == "embed" and (job.get("progress") or {}).get("done", 0) >= 2

        await wait_until(embedding, timeout_s=120, what="the embedding to start")
        assert (await client.post(f"{API}/jobs/{job_id}/cancel")).status_code == 200
        job = await wait_job(client, job_id)
        assert job["status"] == "cancelled"
        document = await wait_document(client, document_id)
        assert document["status"] == "cancelled" and document["generation"] == 0
        assert await vectors_of(chroma_url, collection["chroma_name"], document_id) == []


async def test_cancel_a_queued_job_cancels_its_document(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"api_workers": 0})
    async with running_app(settings) as (_, client):
        await create_collection(client, "queued")
        response = await upload(client, "queued", "q.md", b"# Q\n\nQuiet queue.\n")
        cancelled = await client.post(f"{API}/jobs/{response.json()['job_id']}/cancel")
        assert cancelled.json()["status"] == "cancelled"
        document = (await client.get(f"{API}/documents/{response.json()['document_id']}")).json()
        assert document["status"] == "cancelled" and document["error"]["code"] == "cancelled"
