"""The API calls the whole-stack benchmark's parts share: collections, uploads and their jobs, chunk
texts, the search request, and the API's Prometheus figures."""

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.stack.scifact import doc_text

# Every measured search sends it: the query cache would otherwise answer the repeated queries.
NO_CACHE = {"Cache-Control": "no-cache"}

MODES = ("dense", "lexical", "hybrid")  # SearchRequest.mode: each part measures all three


def search_json(query: str, name: str, top_k: int, mode: str) -> dict:
    """The body of POST /api/v1/search, `mode` always named (one of MODES), as every part measures one."""
    return {"query": query, "collections": [name], "top_k": top_k, "mode": mode}


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def metric_families(api_url: str, prefix: str) -> dict[str, list[float]]:
    """Every sample of the API's /metrics whose name starts with prefix, by name without the prefix nor a
    counter's `_total` (so `_rebuilds_total` and `_rebuilds` read alike); `_created` samples are left out.
    A fresh request, so it works across an API restart."""
    text = httpx.get(f"{api_url}/metrics", timeout=30).raise_for_status().text
    out: dict[str, list[float]] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or not match[1].startswith(prefix) or match[1].endswith("_created"):
            continue
        out.setdefault(match[1].removeprefix(prefix).removesuffix("_total"), []).append(float(match[3]))
    return out


def create_collection(api: httpx.Client, name: str, chunking: dict | None = None) -> None:
    body = {"name": name, "chunking": chunking or {}}
    api.post("/api/v1/collections", json=body).raise_for_status()


def upload_all(
    api: httpx.Client, collection: str, docs: list[dict], copy: int = 0, threads: int = 4
) -> list[dict]:
    def one(doc: dict) -> dict:
        files = {"file": (f"{doc['_id']}.txt", doc_text(doc, copy).encode(), "text/plain")}
        data = {"metadata": json.dumps({"doc_id": doc["_id"], "copy": copy}), "on_duplicate": "reject"}
        for attempt in range(5):
            resp = api.post(f"/api/v1/collections/{collection}/documents", files=files, data=data)
            if resp.status_code != 429 and resp.status_code < 500:
                break
            time.sleep(0.5 * (attempt + 1))
        resp.raise_for_status()
        return resp.json()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, docs))


def wait_jobs(api: httpx.Client, job_ids: list[str], timeout_s: float = 3 * 3600) -> list[dict]:
    """Every job's final record (jobs run roughly in order, so one poll per job mostly suffices)."""
    deadline = time.monotonic() + timeout_s
    finals = []
    for job_id in job_ids:
        while True:
            job = api.get(f"/api/v1/jobs/{job_id}").raise_for_status().json()
            if job["status"] in ("succeeded", "failed", "cancelled", "dead"):
                finals.append(job)
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"job {job_id} did not end in time")
            time.sleep(0.2)
    return finals


def document(api: httpx.Client, document_id: str) -> dict:
    return api.get(f"/api/v1/documents/{document_id}").raise_for_status().json()


def chunk_texts(api: httpx.Client, document_id: str) -> list[str]:
    texts, cursor = [], None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/api/v1/documents/{document_id}/chunks", params=params).raise_for_status().json()
        texts += [c["text"] for c in page["chunks"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return texts


def ingest(api: httpx.Client, collection: str, docs: list[dict], copy: int = 0) -> dict:
    """Uploads, waits, and returns chunks, seconds (first upload to last job end) and the document ids."""
    started_ms = time.time() * 1000
    accepted = upload_all(api, collection, docs, copy)
    jobs = wait_jobs(api, [a["job_id"] for a in accepted])
    failed = [j for j in jobs if j["status"] != "succeeded"]
    if failed:
        print(f"  warning: {len(failed)} ingest jobs did not succeed (first: {failed[0].get('error')})")
    ended_ms = max(j["finished_at_ms"] or 0 for j in jobs)
    ids = [a["document_id"] for a in accepted]
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda d: document(api, d).get("chunk_count") or 0, ids))
    return {
        "documents": len(ids),
        "failed": len(failed),
        "chunks": sum(counts),
        "seconds": (ended_ms - started_ms) / 1000,
        "document_ids": ids,
    }
