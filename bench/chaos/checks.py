"""The final checks, read straight from Redis and Chroma (read-only) once the run has settled and been
reconciled. Each check is a number whose target is 0; DEFINITIONS says what each one counts, and
`examples` keeps a few offenders with what the registry and Chroma held for them.

A document is *searchable* at generation g when its record exists, is not `deleting`, and its searchable
`generation` is g > 0 (orchestrator.catalog.searchable, the rule search applies). That is every `ready`
document, and also a document whose re-ingest failed or was cancelled: it keeps its previous generation."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import chromadb
import httpx
import redis

from bench.chaos.ledger import FINAL_JOB, Ledger
from orchestrator.catalog import Collection, Document, searchable
from orchestrator.core import keys
from orchestrator.vectors import RESERVED, ChunkMeta, user_metadata

MAX_EXAMPLES = 5
CHROMA_PAGE = 1_000

DEFINITIONS = {
    "jobs_not_final": "acknowledged jobs whose record is not succeeded, failed, cancelled or dead",
    "jobs_missing": "acknowledged jobs whose record is gone (jobs are kept: ORCH_JOB_RETENTION_S=0)",
    "registry_jobs_not_final": "jobs in Redis, acknowledged or not, that are not final",
    "uploads_lost": "uploads answered 202 whose document and job records are both gone, though the "
    "harness never asked to delete that document or its collection",
    "acknowledged_documents_missing": "uploads answered 202 whose document record is gone (job still "
    "there), though the harness never asked to delete it or its collection",
    "chunk_count_mismatch": "searchable documents whose Chroma collection holds a number of vectors of "
    "their generation other than their chunk_count",
    "other_generation_vectors": "vectors of a searchable document at a generation other than its "
    "searchable one",
    "vectors_without_searchable_document": "vectors whose document is missing, deleting, not searchable "
    "at the vector's generation, or of another collection",
    "chroma_collections_without_registry": "Chroma collections that are no registry collection's",
    "documents_in_flight": "documents still queued or processing once every job is final",
    "documents_deleting": "documents still deleting once every job is final",
    "collections_deleting": "collections still deleting once every job is final",
    "metadata_mismatch": "searchable documents whose vectors' user metadata differ from the registry's",
    "duplicate_documents": "(collection, sha256) pairs held by more than one document not deleting",
    "search_violations": "search hits of a document that was not searchable at that generation during "
    "the search (see bench/chaos/searches.py)",
    "unexpected_exits": "service processes that died without the fault scheduler killing them",
    "restart_failures": "restarts of a killed service that did not become ready",
}


@dataclass
class Findings:
    checks: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DEFINITIONS, 0))
    examples: defaultdict[str, list] = field(default_factory=lambda: defaultdict(list))
    totals: dict[str, object] = field(default_factory=dict)

    def take(self, check: str, n: int, examples: list) -> None:
        """A check counted elsewhere (during the run): its number and its first examples."""
        self.checks[check] = n
        self.examples[check] = examples[:MAX_EXAMPLES]

    def add(self, check: str, example: object, n: int = 1) -> None:
        self.checks[check] += n
        if len(self.examples[check]) < MAX_EXAMPLES:
            self.examples[check].append(example)


def _records(r: redis.Redis, index: str, key) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    ids = r.zrange(index, 0, -1)
    pipe = r.pipeline(transaction=False)
    for i in ids:
        pipe.hgetall(key(i))
    return {i: raw for i, raw in zip(ids, pipe.execute(), strict=True) if raw}


def _state(document: Document | None) -> dict | None:
    if document is None:
        return None
    return document.model_dump(
        include={"status", "generation", "latest_generation", "chunk_count", "job_id", "collection"}
    )


def _job(raw: dict[str, str] | None) -> dict | None:
    if raw is None:
        return None
    fields = ("type", "status", "attempts", "worker", "cancel_requested", "dead_reason", "error")
    return {k: raw[k] for k in fields if k in raw}


@dataclass
class Story:
    """What the registry and the harness know of one document, for an example."""

    ledger: Ledger
    jobs: dict[str, dict[str, str]]
    documents: dict[str, Document]

    def for_document(self, document_id: str, **more: object) -> dict:
        """The example of one document: its registry record, its jobs, its history, and `more`."""
        document = self.documents.get(document_id)
        return {
            "document_id": document_id,
            "registry": _state(document),
            "job": _job(self.jobs.get(document.job_id or "")) if document else None,
            "harness_jobs": [
                {**about, "status": (self.jobs.get(about["job_id"]) or {}).get("status")}
                for about in self.ledger.jobs_about(document_id)
            ],
            "history": self.ledger.history.get(document_id, []),
            **more,
        }


def _chroma_vectors(chroma_url: str) -> dict[str, list[tuple[str, dict]]]:
    """Chroma collection name -> [(vector id, metadata)], read a page at a time."""
    url = httpx.URL(chroma_url)
    client = chromadb.HttpClient(host=url.host, port=url.port)
    out: dict[str, list[tuple[str, dict]]] = {}
    for listed in client.list_collections():
        collection = client.get_collection(listed.name)
        vectors: list[tuple[str, dict]] = []
        while True:
            got = collection.get(include=["metadatas"], limit=CHROMA_PAGE, offset=len(vectors))
            vectors += list(zip(got["ids"], got["metadatas"], strict=True))
            if len(got["ids"]) < CHROMA_PAGE:
                break
        out[listed.name] = vectors
    return out


def final_checks(redis_url: str, chroma_url: str, ledger: Ledger) -> Findings:
    found = Findings()
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        jobs = _records(r, keys.JOBS, keys.job)
        documents = {
            i: Document.from_redis(raw) for i, raw in _records(r, keys.DOCUMENTS, keys.document).items()
        }
        collections = {
            n: Collection.from_redis(raw) for n, raw in _records(r, keys.COLLECTIONS, keys.collection).items()
        }
    finally:
        r.close()
    vectors = _chroma_vectors(chroma_url)
    story = Story(ledger, jobs, documents)
    _jobs(found, ledger, jobs, documents)
    _registry(found, story, collections)
    _vectors(found, story, collections, vectors)
    found.totals = {
        "jobs": dict(Counter(raw.get("status") for raw in jobs.values())),
        "documents": dict(Counter(str(d.status) for d in documents.values())),
        "collections": len(collections),
        "chroma_collections": len(vectors),
        "vectors": sum(len(v) for v in vectors.values()),
    }
    return found


def _jobs(found: Findings, ledger: Ledger, jobs: dict, documents: dict[str, Document]) -> None:
    for job_id, about in ledger.jobs.items():
        raw = jobs.get(job_id)
        if raw is None:
            found.add("jobs_missing", {"job_id": job_id, **about})
        elif raw.get("status") not in FINAL_JOB:
            found.add("jobs_not_final", {"job_id": job_id, "status": raw.get("status"), **about})
    for job_id, raw in jobs.items():
        if raw.get("status") not in FINAL_JOB:
            found.add(
                "registry_jobs_not_final",
                {"job_id": job_id, "type": raw.get("type"), "status": raw.get("status")},
            )
    for upload in ledger.uploads:
        if upload.document_id in ledger.deleted_documents or upload.collection in ledger.deleted_collections:
            continue
        example = {
            "document_id": upload.document_id,
            "job_id": upload.job_id,
            "collection": upload.collection,
        }
        if upload.document_id not in documents and upload.job_id not in jobs:
            found.add("uploads_lost", example)
        elif upload.document_id not in documents:
            found.add(
                "acknowledged_documents_missing", {**example, "job_status": jobs[upload.job_id].get("status")}
            )


def _registry(found: Findings, story: Story, collections: dict[str, Collection]) -> None:
    documents = story.documents
    by_content: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for document in documents.values():
        if document.status != "deleting":  # a hidden document may be uploaded again meanwhile
            by_content[(document.collection, document.sha256)].append(document.id)
        if document.in_flight:
            found.add("documents_in_flight", story.for_document(document.id))
        elif document.status == "deleting":
            found.add("documents_deleting", story.for_document(document.id))
    for (collection, sha256), ids in by_content.items():
        if len(ids) > 1:
            found.add("duplicate_documents", {"collection": collection, "sha256": sha256, "documents": ids})
    for collection in collections.values():
        if collection.status != "active":
            found.add("collections_deleting", {"name": collection.name, "status": str(collection.status)})


def _vectors(
    found: Findings,
    story: Story,
    collections: dict[str, Collection],
    vectors: dict[str, list[tuple[str, dict]]],
) -> None:
    documents = story.documents
    owner = {c.vector_name: c.name for c in collections.values()}
    for name in sorted(set(vectors) - set(owner)):
        found.add(
            "chroma_collections_without_registry", {"chroma_collection": name, "vectors": len(vectors[name])}
        )
    held: defaultdict[str, Counter] = defaultdict(Counter)  # document -> generation -> vectors
    metadata_off: dict[str, dict] = {}
    for chroma_name, records in vectors.items():
        for vector_id, metadata in records:
            meta = ChunkMeta.read(metadata)
            document = documents.get(meta.document_id)
            held[meta.document_id][meta.generation] += 1
            in_place = document is not None and owner.get(chroma_name) == document.collection
            if not (in_place and searchable(document, meta.generation)):
                found.add(
                    "vectors_without_searchable_document",
                    story.for_document(meta.document_id, vector_id=vector_id, chroma_collection=chroma_name),
                )
                continue
            user = {k: v for k, v in (metadata or {}).items() if k not in RESERVED}
            if user != user_metadata(document.metadata) and document.id not in metadata_off:
                metadata_off[document.id] = {
                    "vector_id": vector_id,
                    "vector_metadata": user,
                    "registry_metadata": user_metadata(document.metadata),
                }
    for document in documents.values():
        if not searchable(document, document.generation):
            continue
        counts = held.get(document.id, Counter())
        state = story.for_document(document.id, chroma=dict(counts))
        if counts[document.generation] != document.chunk_count:
            found.add("chunk_count_mismatch", state)
        others = sum(n for g, n in counts.items() if g != document.generation)
        if others:
            found.add("other_generation_vectors", state, others)
    for document_id, example in metadata_off.items():
        found.add("metadata_mismatch", story.for_document(document_id, **example))
