"""The default handler factory (`ORCH_HANDLERS=orchestrator.ingest:build_handlers`): every job type the
API enqueues, bound to the process's clients."""

import logging

from orchestrator.clients import Clients
from orchestrator.ingest.deletion import Deletion
from orchestrator.ingest.reconciler import Reconciler
from orchestrator.ingest.saga import Ingestion
from orchestrator.jobs import Handlers, Job, JobContext, JobType

log = logging.getLogger(__name__)


def build_handlers(clients: Clients) -> Handlers:
    ingestion, deletion = Ingestion(clients), Deletion(clients)

    async def reconcile(ctx: JobContext, job: Job) -> None:
        await ctx.stage("reconcile")
        report = await Reconciler(clients).run()
        log.info("reconcile job %s: %s", job.id, report.model_dump())

    return {
        JobType.ingest: ingestion.run,
        JobType.reingest: ingestion.run,
        JobType.delete_document: deletion.delete_document,
        JobType.delete_collection: deletion.delete_collection,
        JobType.reconcile: reconcile,
    }
