"""The reconciler: makes Chroma agree with the registry, and reports what it fixed.

- Deletes vectors whose document is missing, `deleting`, or not searchable at that generation (failed,
  cancelled, superseded by a newer generation), once they are older than `reconcile_grace_s` (a running
  ingest's own generation is kept: it is not searchable before its commit anyway).
- Marks documents failed whose ingest job ended without saying so (dead-lettered after its workers died).
- Lapsed leases: workers re-queue them on every claim (XAUTOCLAIM); the report counts those waiting.
- Forgets finished jobs older than `job_retention_s` (dead ones stay for the dead-letter queue).
A collection is read a page at a time, so its size does not set the orchestrator's memory.
Runs periodically in the API process (`reconcile_interval_s`) and on demand (`POST /api/v1/admin/reconcile`).
"""

import asyncio
import logging

from pydantic import BaseModel

from orchestrator import doc_state, keys
from orchestrator.records import (
    PRIORITIES,
    FINAL_JOB_STATUSES,
    CollectionStatus,
    Document,
    DocumentError,
    DocumentStatus,
    JobStatus,
    now_ms,
)
from orchestrator.services import Services

log = logging.getLogger(__name__)

PAGE = 1_000


class ReconcileReport(BaseModel):
    collections_checked: int = 0
    vectors_checked: int = 0
    vectors_deleted: int = 0
    vectors_in_grace: int = 0  # would be deleted, but younger than the grace period
    documents_failed: int = 0  # stuck queued/processing behind a job that had ended
    lapsed_leases: int = 0  # waiting for a worker's next claim to re-queue them
    jobs_forgotten: int = 0  # finished longer ago than the job retention
    orphan_chroma_collections: list[str] = []  # in Chroma, unknown to the registry (reported, not deleted)


def _keep(document: Document | None, generation: int) -> bool:
    if doc_state.searchable(document, generation):
        return True
    # An ingest in flight writes its generation before the commit makes it searchable.
    return (
        document is not None
        and document.status in (DocumentStatus.queued, DocumentStatus.processing)
        and generation == document.latest_generation
    )


class Reconciler:
    def __init__(self, services: Services, *, grace_s: float | None = None):
        self.s = services
        self.grace_s = services.settings.reconcile_grace_s if grace_s is None else grace_s

    async def run(self) -> ReconcileReport:
        report = ReconcileReport()
        await self._fix_stuck_documents(report)
        known: set[str] = set()
        cursor = None
        while True:
            page = await self.s.registry.list_collections(cursor=cursor, limit=100)
            for collection in page.items:
                name = collection.chroma_name or collection.name
                known.add(name)
                if collection.status is CollectionStatus.active:
                    await self._collection(name, report)
                    report.collections_checked += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        names = await self.s.vectors.list_collection_names()
        report.orphan_chroma_collections = sorted(set(names) - known)
        report.lapsed_leases = await self._lapsed_leases()
        retention_s = self.s.settings.job_retention_s
        if retention_s:
            report.jobs_forgotten = await self.s.queue.forget_finished(now_ms() - retention_s * 1000)
        log.info("reconciled: %s", report.model_dump())
        return report

    async def _collection(self, chroma: str, report: ReconcileReport) -> None:
        # Doomed ids are collected first and deleted after the scan: deleting while paging by offset
        # would shift later records past the pages still to read.
        doomed: list[str] = []
        cutoff_ms = now_ms() - round(self.grace_s * 1000)
        offset = 0
        while True:
            records = await self.s.vectors.get(chroma, limit=PAGE, offset=offset)
            report.vectors_checked += len(records)
            documents = await self.s.registry.get_documents(
                sorted({str((r.metadata or {}).get("document_id", "")) for r in records})
            )
            for record in records:
                metadata = record.metadata or {}
                document = documents.get(str(metadata.get("document_id", "")))
                if _keep(document, int(metadata.get("generation", -1))):
                    continue
                if int(metadata.get("ingested_at_ms", 0)) > cutoff_ms:
                    report.vectors_in_grace += 1
                    continue
                doomed.append(record.id)
            if len(records) < PAGE:
                break
            offset += PAGE
        for start in range(0, len(doomed), PAGE):
            await self.s.vectors.delete(chroma, ids=doomed[start : start + PAGE])
        report.vectors_deleted += len(doomed)

    async def _fix_stuck_documents(self, report: ReconcileReport) -> None:
        for status in (DocumentStatus.queued, DocumentStatus.processing):
            cursor = None  # keyset pages stay stable while fixed documents leave this status
            while True:
                page = await self.s.registry.list_documents(status=status, cursor=cursor, limit=PAGE)
                for document in page.items:
                    report.documents_failed += await self._fix_if_stuck(document)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor

    async def _fix_if_stuck(self, document: Document) -> bool:
        """Fails (or cancels) a queued or processing document whose job has ended, or is gone, without
        finishing it; True if it did."""
        if document.job_id is None:
            return False
        job = (await self.s.queue.get_many([document.job_id]))[0]
        if job is not None and (job.status not in FINAL_JOB_STATUSES or job.status is JobStatus.succeeded):
            return False  # still running, or its commit decided: nothing stuck
        error = job.error if job is not None else None
        target = DocumentStatus.cancelled if job and job.status is JobStatus.cancelled else DocumentStatus.failed
        fixed = await doc_state.finish_unready(
            self.s.redis,
            document.id,
            document.job_id,
            target,
            DocumentError(
                code=error.code if error else "job_lost",
                message=error.message if error else "its ingest job ended without finishing it",
            ),
        )
        return fixed is not None

    async def _lapsed_leases(self) -> int:
        lease_ms = round(self.s.settings.lease_s * 1000)
        total = 0
        for priority in PRIORITIES:
            rows = await self.s.redis.xpending_range(
                keys.stream(priority), keys.GROUP, min="-", max="+", count=1000, idle=lease_ms
            )
            total += len(rows)
        return total


async def run_periodically(services: Services, interval_s: float, stop: asyncio.Event) -> None:
    """The API process's reconcile loop; one failed round is logged, not fatal."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
            return
        except TimeoutError:
            pass
        try:
            await Reconciler(services).run()
        except Exception:
            log.exception("reconcile round failed")
