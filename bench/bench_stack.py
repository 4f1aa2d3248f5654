"""`make bench`: the whole stack, as a user would measure it. Starts its own Redis, Chroma, compute and
orchestrator API (in-process workers) on free ports in a temporary data directory, the way `make run`
does (deploy/run_stack.py), then measures:

1. ingest throughput (chunks/s) through the API, from the first upload to the end of the last job, beside
   compute's `/embed` alone on the same chunk texts (fetched back from the API) in the same run;
2. search latency p50/p99 at 1, 8 and 32 concurrent clients through POST /api/v1/search on a collection
   of at least 50,000 chunks (SciFact abstracts cut with the `sentence` strategy at a small max_tokens, the
   corpus uploaded again with a copy marker until there are enough chunks), beside query embedding
   (compute /embed kind=query) plus a raw Chroma HTTP query with the same n_results the API asks for;
3. retrieval quality: SciFact through the API (the collection's default chunking), its test queries through
   /api/v1/search with top_k=100, nDCG@10 and recall@100 by the best chunk per document, beside the
   published 0.645 for all-MiniLM-L6-v2;
4. the peak resident memory (VmHWM) of every process of the stack, sampled during the whole run.

`--quick`: small sizes (300 documents, a 5,000-chunk search collection, 50 queries). Runs from the
orchestrator environment: httpx only, no ML import. Writes bench/results/stack.json (stack-quick.json
with --quick)."""

import argparse
import gzip
import json
import math
import os
import random
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "deploy"))
import run_stack  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SCIFACT = ROOT.parent / "shared" / "retrieval" / "scifact"
PUBLISHED_NDCG10 = 0.64508  # BEIR, all-MiniLM-L6-v2 on SciFact
EMBED_BATCH_TEXTS = 128  # the orchestrator's default ORCH_EMBED_BATCH_TEXTS
API_WORKERS = 2
SEARCH_TOP_K = 10
OVERFETCH_FETCH = SEARCH_TOP_K * 3 + 10  # what /api/v1/search asks Chroma for at top_k=10 (api/search.py)
CONCURRENCY = (1, 8, 32)
SIZES = {
    "quick": {"ingest_docs": 300, "search_chunks": 5_000, "queries": 50, "search_requests": 64},
    "full": {"ingest_docs": None, "search_chunks": 50_000, "queries": None, "search_requests": 320},
}
SEARCH_CHUNKING = {"strategy": "sentence", "max_tokens": 24}
SEARCH_GROUP = 25  # SciFact abstracts per uploaded file in the search collection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# ---------------------------------------------------------------- the stack and its memory


class Stack:
    def __init__(self, data: Path, log: Path) -> None:
        self.ports = {"redis": free_port(), "chroma": free_port(), "compute": free_port(), "orch": free_port()}
        os.environ.update({
            "RUN_DATA_DIR": str(data),
            "RUN_REDIS_PORT": str(self.ports["redis"]),
            "RUN_CHROMA_PORT": str(self.ports["chroma"]),
            "COMPUTE_PORT": str(self.ports["compute"]),
            "ORCH_PORT": str(self.ports["orch"]),
            "ORCH_API_WORKERS": str(API_WORKERS),
            "ORCH_ENV": "dev",
            "ORCH_UPLOADS_PER_MIN": "0",  # the benchmark is one client uploading thousands of files
            "ORCH_SEARCHES_PER_MIN": "0",
            "ORCH_EMBED_BATCH_TEXTS": str(EMBED_BATCH_TEXTS),
            "ORCH_RECONCILE_INTERVAL_S": "3600",
        })
        self.log = log.open("a")
        log_lock = threading.Lock()
        logfile = self.log

        def relay(service: run_stack.Service, process) -> None:  # the services' output goes to a log file
            for line in process.stdout:
                with log_lock:
                    logfile.write(f"{service.name:>12} | {line.decode(errors='replace')}")
                    logfile.flush()

        run_stack.Service._relay = relay
        self.services = run_stack.services()
        self.peak_kb: dict[str, int] = {}
        self._stop = threading.Event()
        self.api = f"http://127.0.0.1:{self.ports['orch']}"
        self.compute = f"http://127.0.0.1:{self.ports['compute']}"
        self.chroma = f"http://127.0.0.1:{self.ports['chroma']}"

    def start(self) -> None:
        for service in self.services:
            service.start()
            deadline = time.monotonic() + 300
            while not service.is_ready():
                if not service.alive or time.monotonic() > deadline:
                    raise SystemExit(f"{service.name} did not become ready; see the log")
                time.sleep(0.25)
            print(f"  {service.name} ready (pid {service.process.pid})", flush=True)
        threading.Thread(target=self._sample, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.sample_once()
        for service in reversed(self.services):
            service.stop()
        self.log.close()

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            self.sample_once()

    def sample_once(self) -> None:
        """VmHWM of each service's process and of its descendants (compute's parse worker), by label."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        for service in self.services:
            if service.process is None:
                continue
            todo, seen = [(service.process.pid, service.name)], []
            while todo:
                pid, label = todo.pop()
                seen.append((pid, label))
                todo += [(c, f"{service.name} child") for c in children.get(pid, [])]
            for pid, label in seen:
                kb = hwm_kb(pid)
                if kb is not None:
                    self.peak_kb[label] = max(self.peak_kb.get(label, 0), kb)


def hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# ---------------------------------------------------------------- SciFact


def load_scifact() -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh]
    queries = {}
    for line in (SCIFACT / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        queries[q["_id"]] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    return corpus, queries, qrels


def doc_text(doc: dict, copy: int = 0) -> str:
    marker = f"[copy {copy}] " if copy else ""
    return f"{marker}{doc.get('title', '')}\n\n{doc.get('text', '')}\n"


# ---------------------------------------------------------------- API helpers


def create_collection(api: httpx.Client, name: str, chunking: dict | None = None) -> None:
    body = {"name": name, "chunking": chunking or {}}
    api.post("/api/v1/collections", json=body).raise_for_status()


def upload_all(api: httpx.Client, collection: str, docs: list[dict], copy: int = 0, threads: int = 4) -> list[dict]:
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
    return {"documents": len(ids), "failed": len(failed), "chunks": sum(counts),
            "seconds": (ended_ms - started_ms) / 1000, "document_ids": ids}


# ---------------------------------------------------------------- 1. ingest throughput


def bench_ingest(api: httpx.Client, compute: httpx.Client, docs: list[dict], collection: str) -> dict:
    result = ingest(api, collection, docs)
    rate = result["chunks"] / result["seconds"]
    with ThreadPoolExecutor(4) as pool:
        texts = [t for part in pool.map(lambda d: chunk_texts(api, d), result["document_ids"]) for t in part]
    batches = [texts[i : i + EMBED_BATCH_TEXTS] for i in range(0, len(texts), EMBED_BATCH_TEXTS)]

    def post(batch: list[str]) -> int:
        compute.post("/embed", json={"texts": batch}).raise_for_status()
        return len(batch)

    post(texts[:16])  # warm
    started = time.perf_counter()
    with ThreadPoolExecutor(API_WORKERS) as pool:  # as many requests at once as the API has workers
        embedded = sum(pool.map(post, batches))
    embed_s = time.perf_counter() - started
    embed_rate = embedded / embed_s
    out = {
        "documents": result["documents"], "failed": result["failed"], "chunks": result["chunks"],
        "ingest_seconds": round(result["seconds"], 2), "ingest_chunks_per_s": round(rate, 1),
        "embed_texts": embedded, "embed_seconds": round(embed_s, 2), "embed_chunks_per_s": round(embed_rate, 1),
        "ratio": round(rate / embed_rate, 3), "target_ratio": 0.75,
    }
    print("\nIngest throughput (whole stack vs /embed alone on the same chunks)")
    print(f"  {'':28}{'chunks':>8}{'seconds':>10}{'chunks/s':>10}")
    print(f"  {'API: upload -> jobs done':28}{out['chunks']:>8}{out['ingest_seconds']:>10.1f}{rate:>10.1f}")
    print(f"  {'/embed alone (batches 128)':28}{embedded:>8}{embed_s:>10.1f}{embed_rate:>10.1f}")
    print(f"  ratio {out['ratio']:.3f} (target >= 0.75); {out['documents']} documents, {out['failed']} failed")
    return out


# ---------------------------------------------------------------- 2. search latency


def build_search_collection(api: httpx.Client, corpus: list[dict], name: str, target: int) -> dict:
    """SciFact abstracts, SEARCH_GROUP to a file (a parse costs about as much for one abstract as for 25,
    and parsing is not what this part measures), cut by the `sentence` strategy at SEARCH_CHUNKING's
    max_tokens; the corpus is uploaded again with a "[copy N]" marker until there are `target` chunks."""
    create_collection(api, name, SEARCH_CHUNKING)
    chunks, copy, started, documents, abstracts = 0, 0, time.perf_counter(), 0, 0
    while chunks < target:
        # about 20 chunks per abstract at 24 tokens (22 measured): what should reach the target, one copy at most
        take = corpus[: min(len(corpus), max(SEARCH_GROUP, int((target - chunks) / 20)))]
        groups = [
            {"_id": f"group-{copy}-{i}", "title": f"SciFact abstracts {i}-{i + len(part) - 1}",
             "text": "\n\n".join(doc_text(d) for d in part)}
            for i, part in ((i, take[i : i + SEARCH_GROUP]) for i in range(0, len(take), SEARCH_GROUP))
        ]
        result = ingest(api, name, groups, copy)
        chunks += result["chunks"]
        documents += result["documents"]
        abstracts += len(take)
        copy += 1
        print(f"  search collection: {chunks} chunks from {abstracts} abstracts in {documents} files "
              f"({copy} pass(es), {time.perf_counter() - started:.0f} s)", flush=True)
    return {"chunks": chunks, "documents": documents, "abstracts": abstracts, "abstracts_per_file": SEARCH_GROUP,
            "passes": copy, "build_seconds": round(time.perf_counter() - started, 1), "chunking": SEARCH_CHUNKING}


def bench_search(api: httpx.Client, compute: httpx.Client, chroma: httpx.Client, name: str,
                 queries: list[str], requests: int, built: dict) -> dict:
    coll = api.get(f"/api/v1/collections/{name}").raise_for_status().json()
    base = "/api/v2/tenants/default_tenant/databases/default_database/collections"
    cid = chroma.get(f"{base}/{coll['chroma_name']}").raise_for_status().json()["id"]

    def via_api(q: str) -> float:
        t = time.perf_counter()
        api.post("/api/v1/search", json={"query": q, "collections": [name], "top_k": SEARCH_TOP_K}).raise_for_status()
        return time.perf_counter() - t

    def raw(q: str) -> float:
        t = time.perf_counter()
        vec = compute.post("/embed", json={"texts": [q], "kind": "query"}).raise_for_status().json()["embeddings"][0]
        chroma.post(f"{base}/{cid}/query", json={
            "query_embeddings": [vec], "n_results": OVERFETCH_FETCH,
            "include": ["documents", "metadatas", "distances"],
        }).raise_for_status()
        return time.perf_counter() - t

    api_levels, raw_levels = {}, {}
    for c in CONCURRENCY:  # interleaved per level, so both see the same machine
        api_levels.update(timed_levels_one(via_api, queries, requests, c))
        raw_levels.update(timed_levels_one(raw, queries, requests, c))
    print(f"\nSearch latency on {built['chunks']} chunks ({built['abstracts']} SciFact abstracts in "
          f"{built['documents']} files, sentence strategy, max_tokens {SEARCH_CHUNKING['max_tokens']}), "
          f"top_k {SEARCH_TOP_K}")
    print(f"  {'clients':>7}{'API p50':>10}{'API p99':>10}{'API q/s':>9}{'raw p50':>10}{'raw p99':>10}"
          f"{'raw q/s':>9}{'p50 ratio':>11}")
    for c in CONCURRENCY:
        a, r = api_levels[c], raw_levels[c]
        print(f"  {c:>7}{a['p50_ms']:>8.1f}ms{a['p99_ms']:>8.1f}ms{a['qps']:>9.1f}{r['p50_ms']:>8.1f}ms"
              f"{r['p99_ms']:>8.1f}ms{r['qps']:>9.1f}{a['p50_ms'] / r['p50_ms']:>11.2f}")
    print(f"  raw = compute /embed kind=query + Chroma HTTP query (n_results {OVERFETCH_FETCH}, as the API asks); "
          "target: API p50 <= 2x raw at 8 clients")
    return {"collection": built, "api": api_levels, "raw_embed_plus_chroma": raw_levels,
            "p50_ratio_at_8": round(api_levels[8]["p50_ms"] / raw_levels[8]["p50_ms"], 2), "target_ratio_at_8": 2.0}


def timed_levels_one(fn, queries: list[str], requests: int, c: int) -> dict:
    qs = [queries[i % len(queries)] for i in range(requests)]
    with ThreadPoolExecutor(c) as pool:
        list(pool.map(fn, qs[: min(c, 8)]))  # warm
        started = time.perf_counter()
        lat = list(pool.map(fn, qs))
        wall = time.perf_counter() - started
    return {c: {"p50_ms": round(1000 * statistics.median(lat), 1), "p99_ms": round(1000 * pct(lat, 0.99), 1),
                "qps": round(len(lat) / wall, 1), "requests": len(lat)}}


# ---------------------------------------------------------------- 3. retrieval quality


def bench_quality(api: httpx.Client, name: str, queries: dict[str, str], qrels: dict[str, dict[str, int]],
                  qids: list[str], documents: int) -> dict:
    def run(qid: str) -> list[str]:
        resp = api.post("/api/v1/search", json={"query": queries[qid], "collections": [name], "top_k": 100})
        ranked: list[str] = []
        for hit in resp.raise_for_status().json()["results"]:  # best chunk per document: first appearance
            did = str(hit["metadata"].get("doc_id") or Path(hit["filename"]).stem)
            if did not in ranked:
                ranked.append(did)
        return ranked

    with ThreadPoolExecutor(4) as pool:
        rankings = dict(zip(qids, pool.map(run, qids), strict=True))
    ndcgs, recalls = [], []
    for qid in qids:
        rel, ranked = qrels[qid], rankings[qid]
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:10]))
        ndcgs.append(dcg / ideal if ideal else 0.0)
        recalls.append(len(set(ranked[:100]) & set(rel)) / len(rel))
    out = {"queries": len(qids), "documents": documents, "ndcg_at_10": round(statistics.fmean(ndcgs), 4),
           "recall_at_100": round(statistics.fmean(recalls), 4), "published_ndcg_at_10": PUBLISHED_NDCG10}
    print(f"\nRetrieval quality: SciFact, {len(qids)} test queries over {documents} documents, top_k 100 chunks, "
          "best chunk per document")
    print(f"  {'':22}{'nDCG@10':>9}{'recall@100':>12}")
    print(f"  {'this stack':22}{out['ndcg_at_10']:>9.4f}{out['recall_at_100']:>12.4f}")
    print(f"  {'published (BEIR)':22}{PUBLISHED_NDCG10:>9.4f}{'':>12}")
    return out


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check that it works")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows up in a pipe or a log too

    def interrupted(signum: int, _frame: object) -> None:  # SIGTERM (and SIGINT even when inherited
        raise KeyboardInterrupt(signal.Signals(signum).name)  # as ignored) still stop the stack it started

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    mode = "quick" if args.quick else "full"
    size = SIZES[mode]
    have_scifact = (SCIFACT / "corpus.jsonl.gz").is_file()
    results: dict = {"mode": mode, "sizes": size, "cores": os.cpu_count()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    random.seed(0)

    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        log = RESULTS / "logs" / "stack.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        stack = Stack(Path(tmp), log)
        print(f"starting the stack in {tmp} (service output: {log})", flush=True)
        try:
            stack.start()
            timeout = httpx.Timeout(600, connect=10)
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            with httpx.Client(base_url=stack.api, timeout=timeout, limits=limits) as api, \
                 httpx.Client(base_url=stack.compute, timeout=timeout, limits=limits) as compute, \
                 httpx.Client(base_url=stack.chroma, timeout=timeout, limits=limits) as chroma:
                if not have_scifact:
                    print(f"\n{SCIFACT} is absent: the SciFact parts (ingest, search, quality) are skipped")
                    results["skipped"] = f"{SCIFACT} absent"
                else:
                    corpus, queries, qrels = load_scifact()
                    qids = sorted(qrels, key=int)[: size["queries"]] if size["queries"] else sorted(qrels, key=int)
                    if size["ingest_docs"]:  # the relevant documents of the queries scored, then others
                        wanted = {d for q in qids for d in qrels[q]}
                        rel = [d for d in corpus if d["_id"] in wanted]
                        rest = [d for d in corpus if d["_id"] not in wanted]
                        docs = (rel + rest)[: max(size["ingest_docs"], len(rel))]
                    else:
                        docs = corpus
                    # 1 and 3 share one collection: the SciFact documents, default chunking
                    create_collection(api, "scifact")
                    print(f"\ningesting {len(docs)} SciFact documents (default chunking)...", flush=True)
                    results["ingest"] = bench_ingest(api, compute, docs, "scifact")
                    results["quality"] = bench_quality(api, "scifact", queries, qrels, qids, len(docs))
                    print(f"\nbuilding the search collection (>= {size['search_chunks']} chunks)...", flush=True)
                    built = build_search_collection(api, corpus, "search", size["search_chunks"])
                    qtexts = [queries[q] for q in sorted(queries, key=int)]
                    results["search"] = bench_search(api, compute, chroma, "search", qtexts,
                                                     size["search_requests"], built)
        finally:
            stack.stop()

    mb = {k: round(v / 1024, 1) for k, v in sorted(stack.peak_kb.items())}
    results["peak_rss_mb"] = mb
    print("\nPeak resident memory (VmHWM) during the run")
    targets = {"orchestrator": 300, "compute": 1200}
    for label, value in mb.items():
        target = f"  (target <= {targets[label]} MB)" if label in targets else ""
        print(f"  {label:20}{value:>9.1f} MB{target}")
    out = RESULTS / ("stack-quick.json" if args.quick else "stack.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
