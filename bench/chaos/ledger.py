"""What the load did and was told, kept for the final checks: every operation's outcome, the acknowledged
uploads and jobs, what the harness asked to delete (answered or not), and the live collections.

"Acknowledged" means the API answered 2xx with the record's id: an upload answered 202 (or 200 with a
job), a re-ingest or a delete answered 202. An operation that got no answer (connection error, timeout)
or a 5xx is `unknown`: it may or may not have happened, so it never counts as acknowledged, and a delete
is recorded as asked for before it is sent. Every method is thread-safe."""

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

FINAL_JOB = frozenset({"succeeded", "failed", "cancelled", "dead"})


@dataclass
class Upload:
    document_id: str
    job_id: str
    collection: str


@dataclass
class KnownDocument:
    document_id: str
    collection: str
    ready: bool = False  # its latest known ingest job succeeded (so a re-ingest may be asked for)


@dataclass
class Ledger:
    operations: defaultdict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    uploads: list[Upload] = field(default_factory=list)
    jobs: dict[str, dict] = field(default_factory=dict)  # acknowledged job id -> {type, document_id, ...}
    job_status: dict[str, str] = field(default_factory=dict)  # last status the load saw
    deleted_documents: set[str] = field(default_factory=set)  # asked for, answered or not
    deleted_collections: set[str] = field(default_factory=set)
    documents: dict[str, KnownDocument] = field(default_factory=dict)
    collections: list[str] = field(default_factory=list)  # live: created and not asked to delete
    # document -> the last few requests about it (re-ingest, patch, delete) with their answers
    history: defaultdict[str, list] = field(default_factory=lambda: defaultdict(list))
    sent: list[tuple[str, str, bytes]] = field(default_factory=list)  # recent (collection, name, bytes)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def outcome(self, operation: str, result: str) -> None:
        with self.lock:
            self.operations[operation][result] += 1

    def succeeded(self, operation: str) -> int:
        with self.lock:
            return sum(n for result, n in self.operations[operation].items() if result.startswith("2"))

    def acknowledge_job(self, job_id: str, kind: str, **about: str | None) -> None:
        with self.lock:
            self.jobs[job_id] = {"type": kind, **about}

    def acknowledge_upload(self, upload: Upload) -> None:
        with self.lock:
            self.uploads.append(upload)
            self.jobs[upload.job_id] = {
                "type": "upload",
                "document_id": upload.document_id,
                "collection": upload.collection,
            }
            self.documents.setdefault(
                upload.document_id, KnownDocument(upload.document_id, upload.collection)
            )
        self.note(upload.document_id, "upload", "202", job_id=upload.job_id)

    def note(self, document_id: str, operation: str, answer: str, keep: int = 6, **detail: object) -> None:
        with self.lock:
            self.history[document_id].append({"operation": operation, "answer": answer, **detail})
            del self.history[document_id][:-keep]

    def jobs_about(self, document_id: str) -> list[dict]:
        with self.lock:
            return [{"job_id": j, **a} for j, a in self.jobs.items() if a.get("document_id") == document_id]

    def remember_sent(self, collection: str, filename: str, data: bytes, keep: int = 40) -> None:
        with self.lock:
            self.sent.append((collection, filename, data))
            del self.sent[:-keep]

    def job_seen(self, job_id: str, status: str) -> None:
        with self.lock:
            self.job_status[job_id] = status
            about = self.jobs.get(job_id, {})
            document = self.documents.get(about.get("document_id") or "")
            if document is not None and about.get("type") in ("upload", "reingest"):
                document.ready = status == "succeeded"

    def outstanding(self, types: tuple[str, ...] = ("upload", "reingest")) -> list[str]:
        """Acknowledged jobs of these types the load has not yet seen final."""
        with self.lock:
            return [
                j
                for j, about in self.jobs.items()
                if about["type"] in types and self.job_status.get(j) not in FINAL_JOB
            ]

    def live_documents(self, *, ready_only: bool = False) -> list[KnownDocument]:
        with self.lock:
            return [
                d
                for d in self.documents.values()
                if d.document_id not in self.deleted_documents
                and d.collection not in self.deleted_collections
                and (d.ready or not ready_only)
            ]

    def live_collections(self) -> list[str]:
        with self.lock:
            return list(self.collections)

    def add_collection(self, name: str) -> None:
        with self.lock:
            self.collections.append(name)

    def forget_collection(self, name: str) -> None:
        """Asked to delete (before the request is sent): no more load goes to it."""
        with self.lock:
            self.deleted_collections.add(name)
            if name in self.collections:
                self.collections.remove(name)

    def forget_document(self, document_id: str) -> None:
        with self.lock:
            self.deleted_documents.add(document_id)
