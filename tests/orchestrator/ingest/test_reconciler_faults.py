"""The reconciler against a broken world: a registry collection whose Chroma collection is gone does not
stop the run (the other collections, job retention and the sweeps still happen); a Chroma collection this
service made and no registry collection names is deleted once old enough, another one only reported; a
delete whose enqueue failed is queued again; a patch whose vector sync failed is synced. A delete job
cannot be cancelled (its document would stay hidden forever)."""

from typing import Any

import chromadb
from redis.exceptions import ConnectionError as RedisConnectionError

from orchestrator.core import keys
from orchestrator.errors import VectorStoreUnavailable
from orchestrator.ingest import reconciler
from orchestrator.ingest.deletion import Deletion
from orchestrator.ingest.reconciler import Reconciler, ReconcileReport
from orchestrator.jobs import JobType
from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, create_collection
from tests.support.job_queue import wait_until
from tests.support.saga_rig import rig
from tests.support.vectors import plant_vector


async def test_a_missing_chroma_collection_does_not_stop_the_rest_of_the_run(
    api_settings: Settings, chroma_url: str
) -> None:
    async with rig(api_settings, job_retention_s=1) as r:
        broken = (await create_collection(r.client, "a-broken"))["chroma_name"]
        healthy = (await create_collection(r.client, "b-healthy"))["chroma_name"]
        _, job_id = await r.upload("b-healthy")
        await r.run(await r.claim("w1"), finish=True)
        await plant_vector(r.clients.vectors, healthy, "ghost", 1, "a vector of no document")
        await r.clients.vectors.delete_collection(broken)  # behind the registry's back
        reports: list[ReconcileReport] = []

        async def job_forgotten() -> bool:
            # Retention forgets a job once its id (its creation time) is older than a second.
            reports.append(await Reconciler(r.clients, grace_s=0).run())
            return reports[-1].jobs_forgotten == 1

        await wait_until(job_forgotten, what="the finished job to be forgotten")
        assert all(report.collections_failed == ["a-broken"] for report in reports)
        assert all(report.collections_checked == 1 for report in reports)
        assert reports[0].vectors_deleted == 1  # the ghost in the healthy collection
        assert await r.clients.redis.exists(keys.job(job_id)) == 0


async def test_orphan_chroma_collections_of_ours_are_deleted_once_old_enough(
    api_settings: Settings, chroma_url: str, monkeypatch
) -> None:
    async with rig(api_settings) as r:
        kept = (await create_collection(r.client, "kept"))["chroma_name"]
        await r.clients.vectors.create_collection("ours-left-behind", dim=384, model="m")
        host, port = chroma_url.removeprefix("http://").split(":")
        raw = await chromadb.AsyncHttpClient(host=host, port=int(port))
        await raw.create_collection("not-ours", embedding_function=None)

        young = await Reconciler(r.clients, grace_s=0).run()
        assert young.orphan_chroma_collections_deleted == []
        assert {"ours-left-behind", "not-ours"} <= set(young.orphan_chroma_collections)

        monkeypatch.setattr(reconciler, "ORPHAN_MIN_AGE_S", 0)
        old = await Reconciler(r.clients, grace_s=0).run()
        # (Other tests' collections are orphans here too: each test starts with an empty Redis.)
        assert "ours-left-behind" in old.orphan_chroma_collections_deleted
        assert "not-ours" in old.orphan_chroma_collections and kept not in old.orphan_chroma_collections
        names = set(await r.clients.vectors.list_collection_names())
        assert kept in names and "not-ours" in names and "ours-left-behind" not in names
        await raw.delete_collection("not-ours")


async def test_a_delete_cannot_be_cancelled(api_settings: Settings) -> None:
    """Its document is hidden already: a cancelled delete would leave it `deleting` forever."""
    async with rig(api_settings) as r:
        await create_collection(r.client, "nocancel")
        document_id, _ = await r.upload("nocancel")
        deleted = await r.client.delete(f"{API}/documents/{document_id}")
        assert deleted.status_code == 202, deleted.text
        refused = await r.client.post(f"{API}/jobs/{deleted.json()['job_id']}/cancel")
        assert_error(refused, 409, "illegal_transition")
        assert (await r.clients.queue.get(deleted.json()["job_id"])).status == "queued"


async def test_a_delete_whose_enqueue_failed_is_finished_by_the_reconciler(api_settings: Settings) -> None:
    async with rig(api_settings) as r:
        await create_collection(r.client, "halfdeleted")
        document_id, _ = await r.upload("halfdeleted")
        await r.run(await r.claim("w1"), finish=True)
        real_enqueue = r.clients.queue.enqueue

        async def redis_gone(type: JobType, *args: Any, **kwargs: Any) -> Any:
            if type is JobType.delete_document:
                raise RedisConnectionError("Redis went away between the status write and the enqueue")
            return await real_enqueue(type, *args, **kwargs)

        r.clients.queue.enqueue = redis_gone  # type: ignore[method-assign]
        assert (await r.client.delete(f"{API}/documents/{document_id}")).status_code == 503
        r.clients.queue.enqueue = real_enqueue  # type: ignore[method-assign]
        assert (await r.document(document_id))["status"] == "deleting"

        report = await Reconciler(r.clients, grace_s=0).run()
        assert report.deletes_resumed == 1
        ctx = await r.claim("w2")
        assert ctx.job.type is JobType.delete_document
        await Deletion(r.clients).delete_document(ctx, ctx.job)
        assert (await r.client.get(f"{API}/documents/{document_id}")).status_code == 404
        assert (await Reconciler(r.clients, grace_s=0).run()).deletes_resumed == 0


async def test_a_patch_whose_vector_sync_failed_is_synced_by_the_reconciler(api_settings: Settings) -> None:
    async with rig(api_settings) as r:
        chroma = (await create_collection(r.client, "halfpatched"))["chroma_name"]
        document_id, _ = await r.upload("halfpatched")
        await r.run(await r.claim("w1"), finish=True)
        real_update = r.clients.vectors.update_metadata

        async def chroma_gone(*args: Any, **kwargs: Any) -> None:
            raise VectorStoreUnavailable("Chroma went away after the registry write")

        r.clients.vectors.update_metadata = chroma_gone  # type: ignore[method-assign]
        patched = await r.client.patch(f"{API}/documents/{document_id}", json={"metadata": {"team": "b"}})
        assert patched.status_code == 503, patched.text
        r.clients.vectors.update_metadata = real_update  # type: ignore[method-assign]
        records = await r.clients.vectors.get(chroma, where={"document_id": document_id})
        assert records and all("team" not in rec.metadata for rec in records)

        report = await Reconciler(r.clients, grace_s=0).run()
        assert report.metadata_synced == 1
        records = await r.clients.vectors.get(chroma, where={"document_id": document_id})
        assert records and all(rec.metadata.get("team") == "b" for rec in records)
        assert (await Reconciler(r.clients, grace_s=0).run()).metadata_synced == 0
