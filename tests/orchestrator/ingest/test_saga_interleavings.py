"""Concurrent attempts on one document, each interleaving forced with hooks on the real clients (Redis,
Chroma, compute all real): whatever the order, a `ready` document has exactly `chunk_count` vectors of its
generation."""

import asyncio
from typing import Any

from contracts.errors import ErrorCode
from orchestrator.errors import ComputeRejected
from orchestrator.ingest import operations
from orchestrator.ingest.reconciler import Reconciler
from orchestrator.settings import Settings
from tests.support.api import create_collection
from tests.support.job_queue import wait_until
from tests.support.saga_rig import Rig, hook, rig


def _ranged(where: dict[str, Any] | None) -> bool:
    """A delete of a range of generations (not one generation, not the whole document)."""
    clauses = (where or {}).get("$and", [])
    return any(isinstance(c.get("generation"), dict) for c in clauses)


async def _ingested(r: Rig, collection: str) -> tuple[str, str]:
    """A document made ready by one full attempt; returns its id and its Chroma collection."""
    chroma = (await create_collection(r.client, collection))["chroma_name"]
    document_id, _ = await r.upload(collection)
    await r.run(await r.claim("w0"))
    assert (await r.document(document_id))["status"] == "ready"
    return document_id, chroma


async def test_a_commits_old_generation_cleanup_never_deletes_a_newer_reingest(
    api_settings: Settings,
) -> None:
    """Generation 2 commits; before its cleanup of older generations runs, a re-ingest begins and stores
    generation 3's first batch. The cleanup must leave generation 3 alone."""
    async with rig(api_settings) as r:
        document_id, chroma = await _ingested(r, "cleanup")
        await r.reingest(document_id)
        second = await r.claim("w1")

        third_stored, cleanup_done = asyncio.Event(), asyncio.Event()
        third: list[asyncio.Task[None]] = []

        async def before_delete(name: str, *, ids: Any = None, where: Any = None) -> None:
            if third or not _ranged(where):
                return
            # The second attempt has committed and is about to drop older generations: a re-ingest starts.
            await r.reingest(document_id)
            ctx = await r.claim("w2")
            third.append(asyncio.create_task(r.run(ctx)))
            await third_stored.wait()

        real_upsert = r.clients.vectors.upsert

        async def upsert(name: str, ids: list[str], *args: Any, **kwargs: Any) -> None:
            await real_upsert(name, ids, *args, **kwargs)
            if third and not third_stored.is_set():
                third_stored.set()
                await cleanup_done.wait()  # the third attempt pauses with its batch stored

        hook(r.clients.vectors, "delete", before_delete)
        r.clients.vectors.upsert = upsert  # type: ignore[method-assign]
        await r.run(second)
        cleanup_done.set()
        assert third, "the second attempt never cleaned up older generations"
        await third[0]

        document = await r.document(document_id)
        assert document["status"] == "ready" and document["generation"] == 3
        generations = await r.vector_generations(chroma, document_id)
        assert generations == [3] * document["chunk_count"], generations


async def test_a_stale_attempts_rollback_never_touches_the_attempt_that_took_over(
    api_settings: Settings,
) -> None:
    """Attempt 1 stalls in embed past its lease; attempt 2 takes the job over and commits; then attempt 1's
    embed fails for good and it rolls back. The document must stay ready with all its vectors."""
    async with rig(api_settings) as r:
        chroma = (await create_collection(r.client, "stale"))["chroma_name"]
        document_id, _ = await r.upload("stale")
        first = await r.claim("w1")

        first_in_embed, second_done = asyncio.Event(), asyncio.Event()
        calls: list[str] = []

        async def embed(texts: Any, **kwargs: Any) -> None:
            calls.append(kwargs.get("request_id") or "")
            if len(calls) == 1:  # the first attempt's embed hangs, then compute answers 500
                first_in_embed.set()
                await second_done.wait()
                raise ComputeRejected(ErrorCode.internal, "compute answered 500", 500)

        hook(r.clients.compute, "embed", embed)
        stale = asyncio.create_task(r.run(first))
        await first_in_embed.wait()
        second = await r.claim("w2")  # waits until the first attempt's lease lapses
        await r.run(second)
        ready = await r.document(document_id)
        assert ready["status"] == "ready"
        second_done.set()
        outcome = await asyncio.gather(stale, return_exceptions=True)

        document = await r.document(document_id)
        assert document["status"] == "ready", (document, outcome)
        assert document["generation"] == ready["generation"]
        generations = await r.vector_generations(chroma, document_id)
        assert generations == [document["generation"]] * document["chunk_count"], generations


async def test_the_reconciler_never_deletes_vectors_a_replay_rebuilt_during_its_scan(
    api_settings: Settings,
) -> None:
    """A worker dies after storing a document's vectors; the job goes dead and the document failed. The
    reconciler scans and dooms those vectors; before it deletes them, the dead job is replayed and
    commits. The replay's vectors must survive."""
    async with rig(api_settings, max_deliveries=1) as r:
        chroma = (await create_collection(r.client, "replay"))["chroma_name"]
        document_id, job_id = await r.upload("replay")
        first = await r.claim("w1")
        stored = asyncio.Event()

        async def after_upsert_dies(*args: Any, **kwargs: Any) -> None:
            if not stored.is_set():
                stored.set()
                await asyncio.Event().wait()  # the worker dies here (its task is cancelled below)

        real_upsert = r.clients.vectors.upsert

        async def upsert(*args: Any, **kwargs: Any) -> None:
            await real_upsert(*args, **kwargs)
            await after_upsert_dies()

        r.clients.vectors.upsert = upsert  # type: ignore[method-assign]
        dying = asyncio.create_task(r.run(first))
        await stored.wait()
        dying.cancel()
        await asyncio.gather(dying, return_exceptions=True)
        r.clients.vectors.upsert = real_upsert  # type: ignore[method-assign]

        # Its lease lapses; with one delivery allowed, the next claim dead-letters the job.
        async def dead() -> bool:
            await r.clients.queue.leases.claim("w2", 1)
            return (await r.clients.queue.get(job_id)).status == "dead"

        await wait_until(dead, what="the job to go dead")

        replayed: list[bool] = []

        async def before_delete(name: str, *, ids: Any = None, where: Any = None) -> None:
            if replayed or not ids:
                return
            replayed.append(True)
            await operations.run_again(r.clients, job_id, dead_only=True)
            await r.run(await r.claim("w3"))
            assert (await r.document(document_id))["status"] == "ready"

        hook(r.clients.vectors, "delete", before_delete)
        report = await Reconciler(r.clients, grace_s=0).run()
        assert replayed, f"the reconciler deleted nothing: {report}"

        document = await r.document(document_id)
        assert document["status"] == "ready", document
        generations = await r.vector_generations(chroma, document_id)
        assert generations == [document["generation"]] * document["chunk_count"], generations
