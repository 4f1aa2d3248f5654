"""The reconciler against a broken world: a registry collection whose Chroma collection is gone does not
stop the run (the other collections, job retention and the sweeps still happen); a Chroma collection this
service made and no registry collection names is deleted once old enough, another one only reported."""

import chromadb

from orchestrator.core import keys
from orchestrator.ingest import reconciler
from orchestrator.ingest.reconciler import Reconciler, ReconcileReport
from orchestrator.settings import Settings
from tests.orchestrator.ingest.saga_rig import rig
from tests.orchestrator.ingest.test_reconciler import _plant
from tests.support.api import create_collection
from tests.support.queue import wait_until


async def test_a_missing_chroma_collection_does_not_stop_the_rest_of_the_run(
    api_settings: Settings, chroma_url: str
) -> None:
    async with rig(api_settings, job_retention_s=1) as r:
        broken = (await create_collection(r.client, "a-broken"))["chroma_name"]
        healthy = (await create_collection(r.client, "b-healthy"))["chroma_name"]
        _, job_id = await r.upload("b-healthy")
        await r.run(await r.claim("w1"), finish=True)
        await _plant(r.clients.vectors, healthy, "ghost", 1, "a vector of no document")
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
