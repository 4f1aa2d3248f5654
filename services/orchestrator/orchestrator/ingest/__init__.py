"""What ties the catalog, the vectors, compute and the queue together: the ingestion saga and the
deletions (job handlers), the reconciler, and the operations on documents, collections and their jobs
that the API and the reconciler share."""

from orchestrator.ingest.handlers import build_handlers
from orchestrator.ingest.reconciler import Reconciler, ReconcileReport, last_report, run_periodically

__all__ = ["ReconcileReport", "Reconciler", "build_handlers", "last_report", "run_periodically"]
