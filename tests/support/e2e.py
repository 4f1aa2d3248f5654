"""Small synchronous helpers for the end-to-end tests: uploads, following jobs, search, generated docs."""

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx

FINAL_JOB = {"succeeded", "failed", "cancelled", "dead"}


def create_collection(client: httpx.Client, name: str) -> None:
    response = client.post("/collections", json={"name": name})
    assert response.status_code == 201, response.text


def upload(client: httpx.Client, collection: str, filename: str, data: bytes) -> dict[str, Any]:
    response = client.post(
        f"/collections/{collection}/documents",
        files={"file": (filename, data, "application/octet-stream")},
        data={"on_duplicate": "skip"},
    )
    assert response.status_code in (200, 202), f"{filename}: {response.status_code} {response.text}"
    return response.json()


def wait_jobs(client: httpx.Client, job_ids: list[str], timeout_s: float) -> dict[str, dict[str, Any]]:
    """Follow every job to a final status; returns job id -> job."""
    done: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    while len(done) < len(job_ids):
        for job_id in job_ids:
            if job_id in done:
                continue
            response = client.get(f"/jobs/{job_id}")
            assert response.status_code == 200, response.text
            if response.json()["status"] in FINAL_JOB:
                done[job_id] = response.json()
        if len(done) < len(job_ids):
            if time.monotonic() > deadline:
                stuck = [j for j in job_ids if j not in done]
                raise AssertionError(f"{len(stuck)} jobs not final after {timeout_s} s, e.g. {stuck[:3]}")
            time.sleep(0.5)
    return done


def search(client: httpx.Client, query: str, collections: list[str], top_k: int = 5) -> list[dict[str, Any]]:
    response = client.post("/search", json={"query": query, "collections": collections, "top_k": top_k})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def chunks(client: httpx.Client, document_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/documents/{document_id}/chunks", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()["chunks"]


def generated_documents(tag: str) -> dict[str, tuple[bytes, str]]:
    """filename -> (bytes, a sentence found only in that document), one per text format."""
    s = {
        "md": f"The amber heron {tag} crossed the salt flats at dawn carrying seventeen copper keys.",
        "html": f"Volcanic glass {tag} from the northern quarry was polished into lenses for the lighthouse.",
        "txt": f"A retired clockmaker {tag} taught the village children to repair bicycles every Sunday.",
        "csv": f"Submarine cables {tag} under the fjord were inspected by divers after the winter storm.",
        "adoc": f"The orchestra {tag} rehearsed the forgotten symphony inside an abandoned railway tunnel.",
    }
    filler = "Nothing else in this short document is remarkable; it exists to be ingested and found again."
    return {
        f"gen-{tag}.md": (f"# Field notes {tag}\n\n{s['md']}\n\n## More\n\n{filler}\n".encode(), s["md"]),
        f"gen-{tag}.html": (
            f"<!DOCTYPE html><html><head><title>Report {tag}</title></head><body><h1>Report {tag}</h1>"
            f"<p>{s['html']}</p><p>{filler}</p></body></html>".encode(),
            s["html"],
        ),
        f"gen-{tag}.txt": (f"{s['txt']}\n\n{filler}\n".encode(), s["txt"]),
        f"gen-{tag}.csv": (
            f"id,topic,note\n1,maintenance,{s['csv']}\n2,filler,{filler}\n".encode(),
            s["csv"],
        ),
        f"gen-{tag}.adoc": (
            f"= Programme {tag}\n\n== Rehearsal\n\n{s['adoc']}\n\n{filler}\n".encode(),
            s["adoc"],
        ),
    }


def corpus_files(corpus: Path, per_format: int = 0) -> list[Path]:
    """Every file outside awkward/, sorted; with per_format > 0, only the first N of each format folder."""
    files: list[Path] = []
    for folder in sorted(p for p in corpus.iterdir() if p.is_dir() and p.name != "awkward"):
        found = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        files += found[:per_format] if per_format else found
    return files


def shared_text_ratio(query: str, text: str, shingle_words: int = 8) -> float:
    """How much of the shorter of two texts the other holds, as the share of its 8-word runs found in
    both (0..1). Template text (the same lorem ipsum in two files) is the same text even when the chunk
    boundaries differ, so a hit on the other file is a fair answer to a query made of it."""

    def shingles(s: str) -> set[tuple[str, ...]]:
        words = s.lower().split()
        return {tuple(words[i : i + shingle_words]) for i in range(max(1, len(words) - shingle_words + 1))}

    a, b = shingles(query), shingles(text)
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def assert_invariants(stack: Any, client: httpx.Client) -> dict[str, int]:
    """The invariants of docs/architecture.md, read straight from Redis and Chroma after an on-demand reconcile (grace 0):
    every vector belongs to a document that is ready in that generation, every Chroma collection belongs
    to a registry collection, and every job is final. Returns what it counted."""
    import chromadb
    import redis

    from orchestrator.catalog.model import Collection, Document
    from orchestrator.core import keys
    from orchestrator.jobs.model import Job

    response = client.post("/admin/reconcile")
    assert response.status_code == 200, response.text
    r = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    url = httpx.URL(stack.chroma_url)
    chroma = chromadb.HttpClient(host=url.host, port=url.port)
    try:
        jobs = [Job.from_redis(r.hgetall(keys.job(i))) for i in r.zrange(keys.JOBS, 0, -1)]
        open_jobs = [(j.id, j.type, j.status) for j in jobs if j.status not in FINAL_JOB]
        assert not open_jobs, f"jobs left non-final: {open_jobs}"

        collections = [
            Collection.from_redis(r.hgetall(keys.collection(n))) for n in r.zrange(keys.COLLECTIONS, 0, -1)
        ]
        registered = {c.chroma_name or c.name for c in collections}
        in_chroma = {c.name if hasattr(c, "name") else str(c) for c in chroma.list_collections()}
        orphans = in_chroma - registered
        assert not orphans, f"Chroma collections without a registry collection: {orphans}"

        documents: dict[str, Document | None] = {}
        vectors, bad = 0, []
        for name in sorted(in_chroma):
            got = chroma.get_collection(name).get(include=["metadatas"])
            for vector_id, meta in zip(got["ids"], got["metadatas"], strict=True):
                vectors += 1
                document_id, generation = meta["document_id"], int(meta["generation"])
                if document_id not in documents:
                    raw = r.hgetall(keys.document(document_id))
                    documents[document_id] = Document.from_redis(raw) if raw else None
                document = documents[document_id]
                if document is None or document.status != "ready" or document.generation != generation:
                    state = None if document is None else (document.status, document.generation)
                    bad.append((vector_id, state))
        assert not bad, f"{len(bad)} vectors no ready document vouches for, e.g. {bad[:5]}"
        return {"jobs": len(jobs), "collections": len(collections), "vectors": vectors}
    finally:
        r.close()


def kill_replica(service: Any) -> None:
    """SIGKILL a compute replica and its parse worker (its own process group)."""
    assert service.process is not None
    os.killpg(service.process.pid, signal.SIGKILL)
    service.process.wait(10)
