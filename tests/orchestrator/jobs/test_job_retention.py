"""Finished jobs are forgotten after the retention (record, events, index entries), so Redis does not grow
with every job ever run; dead, running and queued jobs are kept whatever the cutoff."""

import asyncio

import pytest
from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.core.ids import now_ms
from orchestrator.errors import NotFound
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.leases import Lease
from orchestrator.jobs.model import JobErrorInfo, JobStatus, JobType
from orchestrator.jobs.outcomes import SUCCEEDED, Outcome
from orchestrator.settings import Settings
from tests.support.api import API, create_collection, ingest, running_app, search, wait_job


async def _one_job_per_state(queue: JobQueue, redis: Redis, settings: Settings) -> dict[str, str]:
    """Six jobs of collection `c`: succeeded, failed, dead, running, cancelled, queued."""
    jobs = [(await queue.enqueue(JobType.ingest, collection="c")).job for _ in range(6)]
    leases = JobQueue(redis, settings).leases
    claimed = (await leases.claim("w1", 4)).jobs
    assert [j.id for j in claimed] == [j.id for j in jobs[:4]]
    error = JobErrorInfo(code="unsupported_format", message="no")
    outcomes = [
        SUCCEEDED,
        Outcome(JobStatus.failed, error),
        Outcome(JobStatus.dead, error, dead_reason="poison"),
    ]
    for job, outcome in zip(claimed, outcomes, strict=False):  # the fourth claimed job stays running
        assert await leases.finish(Lease.for_job(job, "w1"), outcome)
    await queue.cancel(jobs[4].id)
    states = ["succeeded", "failed", "dead", "running", "cancelled", "queued"]
    found = {state: (await queue.get(job.id)).status for state, job in zip(states, jobs, strict=True)}
    assert found == {s: JobStatus(s) for s in states}
    return {state: job.id for state, job in zip(states, jobs, strict=True)}


async def test_only_finished_jobs_past_the_cutoff_are_forgotten(
    queue: JobQueue, redis: Redis, settings: Settings
) -> None:
    ids = await _one_job_per_state(queue, redis, settings)
    ended_ms = [(await queue.get(ids[s])).finished_at_ms for s in ("succeeded", "failed", "cancelled")]
    assert await queue.forget_finished(min(ended_ms) - 1) == 0  # ended after the cutoff: kept
    assert len((await queue.list(collection="c")).items) == 6

    assert await queue.forget_finished(now_ms() + 1_000) == 3
    for state in ("succeeded", "failed", "cancelled"):
        with pytest.raises(NotFound):
            await queue.get(ids[state])
        assert not await redis.exists(keys.job_events(ids[state]))
        assert await redis.zscore(keys.jobs_by_status(state), ids[state]) is None
    kept = {ids[s] for s in ("dead", "running", "queued")}
    assert {j.id for j in (await queue.list()).items} == kept
    assert {j.id for j in (await queue.list(collection="c")).items} == kept
    assert await redis.zcard(keys.JOBS) == 3
    assert (await queue.get(ids["dead"])).status is JobStatus.dead  # the dead-letter queue still names it
    assert await queue.forget_finished(now_ms() + 1_000) == 0


async def test_forgetting_reads_the_index_in_batches(queue: JobQueue, redis: Redis) -> None:
    jobs = [(await queue.enqueue(JobType.ingest)).job for _ in range(7)]
    for job in jobs:
        await queue.cancel(job.id)
    assert await queue.forget_finished(now_ms() + 1_000, batch=2) == 7
    assert await redis.zcard(keys.JOBS) == 0


async def test_the_reconciler_forgets_jobs_past_the_retention(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"job_retention_s": 1, "reconcile_interval_s": 0})
    async with running_app(settings) as (_, client):
        await create_collection(client, "kept")
        document = await ingest(client, "kept", "k.md", b"# K\n\nKestrels hover before they stoop.\n")
        job_id = document["job_id"]
        assert (await wait_job(client, job_id))["status"] == "succeeded"
        first = (await client.post(f"{API}/admin/reconcile")).json()
        assert first["jobs_forgotten"] == 0  # ended less than a second ago
        await asyncio.sleep(1.2)
        second = (await client.post(f"{API}/admin/reconcile")).json()
        assert second["jobs_forgotten"] == 1
        gone = await client.get(f"{API}/jobs/{job_id}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        # The document, its vectors and search are the job's results, not its record: they stay.
        still = (await client.get(f"{API}/documents/{document['id']}")).json()
        assert still["status"] == "ready"
        assert (await search(client, "kestrels hovering", ["kept"]))[0]["document_id"] == document["id"]


async def test_a_retention_of_zero_keeps_every_job(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"job_retention_s": 0, "reconcile_interval_s": 0})
    async with running_app(settings) as (_, client):
        await create_collection(client, "forever")
        document = await ingest(client, "forever", "f.md", b"# F\n\nFulmars glide over the waves.\n")
        assert (await wait_job(client, document["job_id"]))["status"] == "succeeded"
        await asyncio.sleep(1.1)
        assert (await client.post(f"{API}/admin/reconcile")).json()["jobs_forgotten"] == 0
        assert (await client.get(f"{API}/jobs/{document['job_id']}")).status_code == 200
