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
import json
import math
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.stack_support import (
    EMBED_BATCH_TEXTS,
    EMBED_CONCURRENCY,
    SCIFACT,
    Stack,
    chunk_texts,
    create_collection,
    doc_text,
    ingest,
    load_scifact,
)

RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED_NDCG10 = 0.64508  # BEIR, all-MiniLM-L6-v2 on SciFact
SEARCH_TOP_K = 10
OVERFETCH_FETCH = SEARCH_TOP_K * 3 + 10  # what /api/v1/search asks Chroma for at top_k=10 (api/search.py)
CONCURRENCY = (1, 8, 32)
SIZES = {
    "quick": {
        "ingest_docs": 300,
        "grouped_abstracts": 250,
        "search_chunks": 5_000,
        "queries": 50,
        "search_requests": 64,
    },
    "full": {
        "ingest_docs": None,
        "grouped_abstracts": 1_000,
        "search_chunks": 50_000,
        "queries": None,
        "search_requests": 320,
    },
}
SEARCH_CHUNKING = {"strategy": "sentence", "max_tokens": 24}
SEARCH_GROUP = 25  # SciFact abstracts per uploaded file in the search collection


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def compute_route_seconds(compute: httpx.Client) -> dict[str, tuple[float, float]]:
    """(requests, seconds) per compute route so far, from its Prometheus histogram."""
    out: dict[str, list[float]] = {}
    for line in compute.get("/metrics").raise_for_status().text.splitlines():
        for suffix, slot in (("_count", 0), ("_sum", 1)):
            head = f'compute_request_seconds{suffix}{{route="'
            if line.startswith(head):
                route, value = line[len(head) :].split('"}')
                out.setdefault(route, [0.0, 0.0])[slot] = float(value)
    return {route: (v[0], v[1]) for route, v in out.items()}


def grouped(corpus: list[dict], per_file: int, copy: int = 0) -> list[dict]:
    """SciFact abstracts `per_file` to an uploaded file: a document of a few pages instead of one abstract."""
    return [
        {
            "_id": f"group-{copy}-{i}",
            "title": f"SciFact abstracts {i}-{i + len(part) - 1}",
            "text": "\n\n".join(doc_text(d, copy) for d in part),
        }
        for i, part in ((i, corpus[i : i + per_file]) for i in range(0, len(corpus), per_file))
    ]


def bench_ingest(
    stack: Stack,
    api: httpx.Client,
    compute: httpx.Client,
    docs: list[dict],
    collection: str,
    label: str,
    phase: str,
) -> dict:
    before = compute_route_seconds(compute)
    with stack.phase(phase):
        result = ingest(api, collection, docs)
    after = compute_route_seconds(compute)
    spent = {}
    for route in ("/parse", "/chunk", "/embed"):
        n0, s0 = before.get(route, (0.0, 0.0))
        n1, s1 = after.get(route, (0.0, 0.0))
        spent[route] = {"requests": int(n1 - n0), "mean_ms": round(1000 * (s1 - s0) / max(1.0, n1 - n0), 1)}
    rate = result["chunks"] / result["seconds"]
    with ThreadPoolExecutor(4) as pool:
        texts = [t for part in pool.map(lambda d: chunk_texts(api, d), result["document_ids"]) for t in part]
    batches = [texts[i : i + EMBED_BATCH_TEXTS] for i in range(0, len(texts), EMBED_BATCH_TEXTS)]

    def post(batch: list[str]) -> int:
        compute.post("/embed", json={"texts": batch}).raise_for_status()
        return len(batch)

    post(texts[:16])  # warm
    with stack.phase(f"embed {phase.split()[-1]}"):
        started = time.perf_counter()
        with ThreadPoolExecutor(EMBED_CONCURRENCY) as pool:
            embedded = sum(pool.map(post, batches))
        embed_s = time.perf_counter() - started
    embed_rate = embedded / embed_s
    out = {
        "documents": result["documents"],
        "failed": result["failed"],
        "chunks": result["chunks"],
        "ingest_seconds": round(result["seconds"], 2),
        "ingest_chunks_per_s": round(rate, 1),
        "embed_texts": embedded,
        "embed_seconds": round(embed_s, 2),
        "embed_chunks_per_s": round(embed_rate, 1),
        "ratio": round(rate / embed_rate, 3),
        "target_ratio": 0.75,
        "compute_during_ingest": spent,
    }
    print(f"\nIngest throughput, {label} (whole stack vs /embed alone on the same chunks)")
    print(f"  {'':28}{'chunks':>8}{'seconds':>10}{'chunks/s':>10}")
    print(f"  {'API: upload -> jobs done':28}{out['chunks']:>8}{out['ingest_seconds']:>10.1f}{rate:>10.1f}")
    print(f"  {'/embed alone (batches 128)':28}{embedded:>8}{embed_s:>10.1f}{embed_rate:>10.1f}")
    print(
        f"  ratio {out['ratio']:.3f} (target >= 0.75); {out['documents']} documents, {out['failed']} failed"
    )
    print(
        "  compute during the ingest: "
        + ", ".join(f"{route} {v['requests']} x {v['mean_ms']} ms" for route, v in sorted(spent.items()))
    )
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
        result = ingest(api, name, grouped(take, SEARCH_GROUP), copy)
        chunks += result["chunks"]
        documents += result["documents"]
        abstracts += len(take)
        copy += 1
        print(
            f"  search collection: {chunks} chunks from {abstracts} abstracts in {documents} files "
            f"({copy} pass(es), {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    return {
        "chunks": chunks,
        "documents": documents,
        "abstracts": abstracts,
        "abstracts_per_file": SEARCH_GROUP,
        "passes": copy,
        "build_seconds": round(time.perf_counter() - started, 1),
        "chunking": SEARCH_CHUNKING,
    }


def bench_search(
    api: httpx.Client,
    compute: httpx.Client,
    chroma: httpx.Client,
    name: str,
    queries: list[str],
    requests: int,
    built: dict,
) -> dict:
    coll = api.get(f"/api/v1/collections/{name}").raise_for_status().json()
    base = "/api/v2/tenants/default_tenant/databases/default_database/collections"
    cid = chroma.get(f"{base}/{coll['chroma_name']}").raise_for_status().json()["id"]

    def via_api(q: str) -> float:
        t = time.perf_counter()
        api.post(
            "/api/v1/search", json={"query": q, "collections": [name], "top_k": SEARCH_TOP_K}
        ).raise_for_status()
        return time.perf_counter() - t

    def raw(q: str) -> float:
        t = time.perf_counter()
        vec = (
            compute.post("/embed", json={"texts": [q], "kind": "query"})
            .raise_for_status()
            .json()["embeddings"][0]
        )
        chroma.post(
            f"{base}/{cid}/query",
            json={
                "query_embeddings": [vec],
                "n_results": OVERFETCH_FETCH,
                "include": ["documents", "metadatas", "distances"],
            },
        ).raise_for_status()
        return time.perf_counter() - t

    api_levels, raw_levels = {}, {}
    for c in CONCURRENCY:  # interleaved per level, so both see the same machine
        api_levels.update(timed_levels_one(via_api, queries, requests, c))
        raw_levels.update(timed_levels_one(raw, queries, requests, c))
    print(
        f"\nSearch latency on {built['chunks']} chunks ({built['abstracts']} SciFact abstracts in "
        f"{built['documents']} files, sentence strategy, max_tokens {SEARCH_CHUNKING['max_tokens']}), "
        f"top_k {SEARCH_TOP_K}"
    )
    print(
        f"  {'clients':>7}{'API p50':>10}{'API p99':>10}{'API q/s':>9}{'raw p50':>10}{'raw p99':>10}"
        f"{'raw q/s':>9}{'p50 ratio':>11}"
    )
    for c in CONCURRENCY:
        a, r = api_levels[c], raw_levels[c]
        print(
            f"  {c:>7}{a['p50_ms']:>8.1f}ms{a['p99_ms']:>8.1f}ms{a['qps']:>9.1f}{r['p50_ms']:>8.1f}ms"
            f"{r['p99_ms']:>8.1f}ms{r['qps']:>9.1f}{a['p50_ms'] / r['p50_ms']:>11.2f}"
        )
    print(
        f"  raw = compute /embed kind=query + Chroma HTTP query (n_results {OVERFETCH_FETCH}, as the API asks); "
        "target: API p50 <= 2x raw at 8 clients"
    )
    return {
        "collection": built,
        "api": api_levels,
        "raw_embed_plus_chroma": raw_levels,
        "p50_ratio_at_8": round(api_levels[8]["p50_ms"] / raw_levels[8]["p50_ms"], 2),
        "target_ratio_at_8": 2.0,
    }


def timed_levels_one(fn, queries: list[str], requests: int, c: int) -> dict:
    qs = [queries[i % len(queries)] for i in range(requests)]
    with ThreadPoolExecutor(c) as pool:
        list(pool.map(fn, qs[: min(c, 8)]))  # warm
        started = time.perf_counter()
        lat = list(pool.map(fn, qs))
        wall = time.perf_counter() - started
    return {
        c: {
            "p50_ms": round(1000 * statistics.median(lat), 1),
            "p99_ms": round(1000 * pct(lat, 0.99), 1),
            "qps": round(len(lat) / wall, 1),
            "requests": len(lat),
        }
    }


# ---------------------------------------------------------------- 3. retrieval quality


def bench_quality(
    api: httpx.Client,
    name: str,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    qids: list[str],
    documents: int,
) -> dict:
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
    out = {
        "queries": len(qids),
        "documents": documents,
        "ndcg_at_10": round(statistics.fmean(ndcgs), 4),
        "recall_at_100": round(statistics.fmean(recalls), 4),
        "published_ndcg_at_10": PUBLISHED_NDCG10,
    }
    print(
        f"\nRetrieval quality: SciFact, {len(qids)} test queries over {documents} documents, top_k 100 chunks, "
        "best chunk per document"
    )
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
            with (
                httpx.Client(base_url=stack.api, timeout=timeout, limits=limits) as api,
                httpx.Client(base_url=stack.compute, timeout=timeout, limits=limits) as compute,
                httpx.Client(base_url=stack.chroma, timeout=timeout, limits=limits) as chroma,
            ):
                if not have_scifact:
                    print(f"\n{SCIFACT} is absent: the SciFact parts (ingest, search, quality) are skipped")
                    results["skipped"] = f"{SCIFACT} absent"
                else:
                    corpus, queries, qrels = load_scifact()
                    qids = (
                        sorted(qrels, key=int)[: size["queries"]]
                        if size["queries"]
                        else sorted(qrels, key=int)
                    )
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
                    results["ingest"] = bench_ingest(
                        stack, api, compute, docs, "scifact", "one abstract per file", "ingest 1"
                    )
                    with stack.phase("quality"):
                        results["quality"] = bench_quality(api, "scifact", queries, qrels, qids, len(docs))
                    # the same measure on documents of a few pages: the per-document costs spread over more chunks
                    create_collection(api, "scifact-grouped")
                    files = grouped(corpus[: size["grouped_abstracts"]], SEARCH_GROUP)
                    print(
                        f"\ningesting {size['grouped_abstracts']} SciFact abstracts, {SEARCH_GROUP} per file...",
                        flush=True,
                    )
                    results["ingest_grouped"] = bench_ingest(
                        stack,
                        api,
                        compute,
                        files,
                        "scifact-grouped",
                        f"{SEARCH_GROUP} abstracts per file",
                        f"ingest {SEARCH_GROUP}",
                    )
                    print(
                        f"\nbuilding the search collection (>= {size['search_chunks']} chunks)...", flush=True
                    )
                    with stack.phase("search build"):
                        built = build_search_collection(api, corpus, "search", size["search_chunks"])
                    qtexts = [queries[q] for q in sorted(queries, key=int)]
                    with stack.phase("search"):
                        results["search"] = bench_search(
                            api, compute, chroma, "search", qtexts, size["search_requests"], built
                        )
        finally:
            stack.stop()

    results["cpu_seconds_by_phase"] = stack.phase_cpu_s
    print(
        "\nCPU seconds used in each phase (user + system; the machine has "
        f"{os.cpu_count()} cores; 'ingest N' = N abstracts per file, 'embed N' = /embed alone on its chunks)"
    )
    labels = sorted({k for v in stack.phase_cpu_s.values() for k in v})
    print(f"  {'process':20}" + "".join(f"{p:>14}" for p in stack.phase_cpu_s))
    for label in labels:
        # max(0, ...): a parse worker replaced during a phase starts its count anew
        print(
            f"  {label:20}"
            + "".join(f"{max(0.0, v.get(label, 0)):>14.1f}" for v in stack.phase_cpu_s.values())
        )
    mb = {k: round(v / 1024, 1) for k, v in sorted(stack.peak_kb.items())}
    phases = {
        p: {k: round(v / 1024, 1) for k, v in peaks.items()} for p, peaks in stack.phase_peak_kb.items()
    }
    results["peak_rss_mb"] = mb
    results["peak_rss_mb_by_phase"] = phases
    print("\nPeak resident memory (VmHWM, MB): the whole run, then each phase alone")
    targets = {"orchestrator": 300, "compute": 1200}
    print(f"  {'process':20}{'run':>9}" + "".join(f"{p:>14}" for p in phases) + "  target")
    for label, value in mb.items():
        cells = "".join(f"{phases[p].get(label, 0):>14.1f}" for p in phases)
        target = f"  <= {targets[label]}" if label in targets else ""
        print(f"  {label:20}{value:>9.1f}{cells}{target}")
    out = RESULTS / ("stack-quick.json" if args.quick else "stack.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
