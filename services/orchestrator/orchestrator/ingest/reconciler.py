"""The reconciler: makes Chroma, the blob store and the job records agree with the registry, and reports
what it fixed (ReconcileReport). It deletes vectors no ready generation vouches for and Chroma collections
no collection names (each past a grace), fails documents their job left behind, queues lost deletes
again, re-syncs metadata, forgets old jobs, removes staged uploads, orphan originals and ended jobs' parse
windows, and recounts chunk counts, a page at a time. It runs every `reconcile_interval_s` in the API
process and on `POST /api/v1/admin/reconcile`, one round at a time in the deployment (a Redis lock).
See docs/architecture.md#the-reconciler.
"""

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator

from pydantic import BaseModel

import orchestrator.ingest.metadata as metadata
from orchestrator.catalog import (
    IN_FLIGHT,
    STAGED_ABANDONED_S,
    Collection,
    CollectionStatus,
    Document,
    DocumentStatus,
    searchable,
)
from orchestrator.clients import Clients
from orchestrator.core import keys
from orchestrator.core.ids import now_ms
from orchestrator.core.locks import single_flight
from orchestrator.errors import Conflict, NotFound, OrchErrorCode
from orchestrator.ingest.collection_lifecycle import resume_collection_delete
from orchestrator.ingest.operations import fail_if_stuck, resume_document_delete
from orchestrator.vectors import ChunkMeta, document_ids

log = logging.getLogger(__name__)

PAGE = 1_000
# A collection is made in Chroma a moment before the registry names it: never mistake that for an orphan.
ORPHAN_MIN_AGE_S = 300
# The round's lock lives this long unless renewed (every third of it, while the round runs): a process
# that dies mid-round holds it up a minute at most.
LOCK_TTL_S = 60.0


class ReconcileReport(BaseModel):
    started_at_ms: int = 0
    finished_at_ms: int = 0
    collections_checked: int = 0
    vectors_checked: int = 0
    vectors_deleted: int = 0
    vectors_in_grace: int = 0  # would be deleted, but younger than the grace period
    documents_failed: int = 0  # stuck queued/processing behind a job that had ended
    deletes_resumed: int = 0  # documents and collections left deleting with no delete job to finish them
    metadata_synced: int = 0  # documents whose searchable vectors carried other metadata than the registry
    lapsed_leases: int = 0  # waiting for a worker's next claim to re-queue them
    jobs_forgotten: int = 0  # finished longer ago than the job retention
    staged_uploads_removed: int = 0  # left by a process that died mid-upload
    originals_removed: int = 0  # of no document (a crash between keeping and registering), or not kept
    window_runs_removed: int = 0  # parse windows kept for jobs that have ended
    counts_fixed: int = 0  # collections whose kept chunk count differed from their documents' (recounted)
    orphan_chroma_collections: list[str] = []  # in Chroma, unknown to the registry, left (young or not ours)
    orphan_chroma_collections_deleted: list[str] = []
    collections_failed: list[str] = []  # could not be checked this round (error logged): the next tries


class ReconcileRunning(Conflict):
    """A round runs already (in this process or another): this one does not start."""

    code = OrchErrorCode.reconcile_running
    retryable = True

    def __init__(self, holder: str | None):
        started, _, _ = (holder or "").partition(":")
        super().__init__(
            "a reconcile round is running; its report will be at GET /api/v1/admin/reconcile",
            details={"running_since_ms": int(started) if started.isdigit() else None},
        )


def _keep(document: Document | None, generation: int) -> bool:
    if searchable(document, generation):
        return True
    # An ingest in flight writes its generation before the commit makes it searchable.
    return document is not None and document.in_flight and generation == document.latest_generation


class Reconciler:
    def __init__(self, clients: Clients, *, grace_s: float | None = None):
        self.clients = clients
        self.grace_s = clients.settings.reconcile_grace_s if grace_s is None else grace_s

    async def run(self) -> ReconcileReport:
        """One round, the only one in the deployment while it runs: ReconcileRunning if another runs."""
        report = ReconcileReport(started_at_ms=now_ms())
        token = f"{report.started_at_ms}:{secrets.token_hex(8)}"  # the start, for whoever finds it held
        async with single_flight(
            self.clients.redis, keys.RECONCILE_LOCK, ttl_s=LOCK_TTL_S, token=token, busy=ReconcileRunning
        ):
            return await self._round(report)

    async def _round(self, report: ReconcileReport) -> ReconcileReport:
        await self._fix_stuck_documents(report)
        await self._resume_deletes(report)
        async for collection in self._collections():
            if collection.status is CollectionStatus.active:
                try:
                    await self._collection(collection.vector_name, report)
                except Exception as exc:  # one broken collection must not stop the others
                    log.warning("reconcile: collection %s skipped this round: %r", collection.name, exc)
                    report.collections_failed.append(collection.name)
                    continue
                report.collections_checked += 1
                report.counts_fixed += await self._recount(collection.name)
        try:
            await self._orphan_collections(report)
        except Exception as exc:  # Chroma away: the next round looks again; the rest goes on
            log.warning("reconcile: orphan Chroma collections not checked this round: %r", exc)
        report.lapsed_leases = await self.clients.queue.lapsed_leases()
        report.staged_uploads_removed = await self.clients.blobs.sweep_staged(STAGED_ABANDONED_S)
        report.originals_removed = await self._sweep_originals()
        report.window_runs_removed = await self._sweep_windows()
        retention_s = self.clients.settings.job_retention_s
        if retention_s:
            report.jobs_forgotten = await self.clients.queue.forget_finished(now_ms() - retention_s * 1000)
        report.finished_at_ms = now_ms()
        log.info("reconciled: %s", report.model_dump())
        # Kept for operators (GET /api/v1/admin/reconcile): the latest round, from whichever process ran it.
        await self.clients.redis.set(keys.RECONCILE_LAST, report.model_dump_json())
        return report

    async def _collections(self) -> AsyncIterator[Collection]:
        cursor = None
        while True:
            page = await self.clients.registry.list_collections(cursor=cursor, limit=100)
            for collection in page.items:
                yield collection
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def _orphan_collections(self, report: ReconcileReport) -> None:
        # Chroma first, the registry after: a collection made in between is in both lists.
        names = set(await self.clients.vectors.list_collection_names())
        names -= {collection.vector_name async for collection in self._collections()}
        cutoff_ms = now_ms() - round(max(self.grace_s, ORPHAN_MIN_AGE_S) * 1000)
        for name in sorted(names):
            info = await self.clients.vectors.describe(name, fresh=True)
            if info.created_at_ms is not None and info.created_at_ms < cutoff_ms:
                await self.clients.vectors.delete_collection(name)
                report.orphan_chroma_collections_deleted.append(name)
            else:
                report.orphan_chroma_collections.append(name)

    async def _collection(self, chroma: str, report: ReconcileReport) -> None:
        # Doomed ids are collected first and deleted after the scan: deleting while paging by offset
        # would shift later records past the pages still to read.
        doomed: list[tuple[str, str, int]] = []  # vector id, document id, generation
        behind: set[str] = set()  # documents whose vectors' metadata differs from the registry's
        cutoff_ms = now_ms() - round(self.grace_s * 1000)
        offset = 0
        while True:
            records = await self.clients.vectors.get(chroma, limit=PAGE, offset=offset)
            report.vectors_checked += len(records)
            documents = await self.clients.registry.get_documents(document_ids([r.metadata for r in records]))
            for record in records:
                meta = ChunkMeta.read(record.metadata)
                document = documents.get(meta.document_id)
                if _keep(document, meta.generation):
                    if searchable(document, meta.generation) and metadata.behind(record.metadata, document):
                        behind.add(meta.document_id)
                    continue
                if meta.ingested_at_ms > cutoff_ms:
                    report.vectors_in_grace += 1
                    continue
                doomed.append((record.id, meta.document_id, meta.generation))
            if len(records) < PAGE:
                break
            offset += PAGE
        for start in range(0, len(doomed), PAGE):
            report.vectors_deleted += await self._delete_still_doomed(chroma, doomed[start : start + PAGE])
        for document_id in sorted(behind):  # the sync reads the registry again, under the document's lock
            await metadata.sync_vector_metadata(self.clients, document_id)
        report.metadata_synced += len(behind)

    async def _delete_still_doomed(self, chroma: str, batch: list[tuple[str, str, int]]) -> int:
        """Deletes the batch's vectors that their documents, read again now, still do not keep."""
        documents = await self.clients.registry.get_documents(
            sorted({document_id for _, document_id, _ in batch})
        )
        ids = [i for i, document_id, generation in batch if not _keep(documents[document_id], generation)]
        await self.clients.vectors.delete(chroma, ids=ids)
        return len(ids)

    async def _sweep_originals(self) -> int:
        """Deletes originals no document vouches for once they are older than STAGED_ABANDONED_S (an upload
        keeps its original a moment before it registers the document), and, with ORCH_KEEP_ORIGINALS=false,
        those of documents that are settled (the saga's own drop is best effort)."""
        keep_all = self.clients.settings.keep_originals
        removed = 0
        async for page in self.clients.blobs.originals():
            documents = await self.clients.registry.get_documents([document_id for document_id, _ in page])
            for document_id, age_s in page:
                document = documents[document_id]
                if document is None:
                    doomed = age_s > STAGED_ABANDONED_S
                else:
                    doomed = not keep_all and document.status is DocumentStatus.ready
                if doomed:
                    await self.clients.blobs.delete(document_id)
                    removed += 1
        return removed

    async def _sweep_windows(self) -> int:
        """Deletes the parse windows of jobs that have ended or are gone: no retry will resume from them."""
        runs = [run async for run in self.clients.blobs.window_owners()]
        removed = 0
        for start in range(0, len(runs), PAGE):
            page = runs[start : start + PAGE]
            jobs = await self.clients.queue.get_many([job_id for _, job_id in page])
            for (document_id, job_id), job in zip(page, jobs, strict=True):
                if job is None or job.final:
                    await self.clients.blobs.delete_windows(document_id, job_id)
                    removed += 1
        return removed

    async def _recount(self, name: str) -> int:
        """1 if the collection's kept chunk count was off (a write raced a change before the counter
        existed, or a hand edit): it is set from its documents either way."""
        kept = (await self.clients.registry.collection_stats(name)).chunk_count
        fresh = await self.clients.registry.recount(name)  # None: too busy this round, left for the next
        return int(fresh is not None and fresh != kept)

    async def _resume_deletes(self, report: ReconcileReport) -> None:
        cursor = None
        while True:
            page = await self.clients.registry.list_documents(
                status=DocumentStatus.deleting, cursor=cursor, limit=PAGE
            )
            for document in page.items:
                report.deletes_resumed += await resume_document_delete(
                    self.clients, document, grace_s=self.grace_s
                )
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        async for collection in self._collections():
            if collection.status is CollectionStatus.deleting:
                report.deletes_resumed += await resume_collection_delete(
                    self.clients, collection, grace_s=self.grace_s
                )

    async def _fix_stuck_documents(self, report: ReconcileReport) -> None:
        for status in sorted(IN_FLIGHT):
            cursor = None  # keyset pages stay stable while fixed documents leave this status
            while True:
                page = await self.clients.registry.list_documents(status=status, cursor=cursor, limit=PAGE)
                for document in page.items:
                    report.documents_failed += await fail_if_stuck(
                        self.clients, document, grace_s=self.grace_s
                    )
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor


async def last_report(clients: Clients) -> ReconcileReport:
    """The latest round's report; NotFound before any round has finished."""
    raw = await clients.redis.get(keys.RECONCILE_LAST)
    if raw is None:
        raise NotFound("no reconcile round has finished yet")
    return ReconcileReport.model_validate_json(raw)


async def run_periodically(clients: Clients, interval_s: float, stop: asyncio.Event) -> None:
    """The API process's reconcile loop; one failed round is logged, not fatal, and a round that finds
    another running is skipped."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
            return
        except TimeoutError:
            pass
        try:
            await Reconciler(clients).run()
        except ReconcileRunning:  # another process's round (or an operator's): this one is not needed
            log.info("reconcile round skipped: another one runs")
        except Exception:
            log.exception("reconcile round failed")
