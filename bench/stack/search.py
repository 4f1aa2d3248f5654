"""Parts 3 and 4 of the stack bench: search latency per mode through POST /api/v1/search beside the raw
path (compute /embed kind=query plus a raw Chroma HTTP query with the n_results the API asks for) on a
collection built for it, and query-cache hits beside the same query with no-cache. The timing helpers are
here: only these parts time searches."""

import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.stack.api_calls import MODES, NO_CACHE, create_collection, ingest, metric_families, search_json
from bench.stack.scifact import grouped

SEARCH_TOP_K = 10
OVERFETCH_FETCH = SEARCH_TOP_K * 3 + 10  # what /api/v1/search asks Chroma for at top_k=10 (api/search.py)
CONCURRENCY = (1, 8, 32)
SEARCH_CHUNKING = {"strategy": "sentence", "max_tokens": 24}
SEARCH_GROUP = 25  # SciFact abstracts per uploaded file in the search collection


# ---------------------------------------------------------------- 3. search latency


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


def print_latency(levels: dict[str, dict[int, dict]], built: dict, requests: int, ratios: dict) -> None:
    """The latency table: each client count, each path (the raw one first), beside the raw path's p50."""
    print(
        f"\nSearch latency on {built['chunks']} chunks ({built['abstracts']} SciFact abstracts in "
        f"{built['documents']} files, sentence strategy, max_tokens {SEARCH_CHUNKING['max_tokens']}), "
        f"top_k {SEARCH_TOP_K}, Cache-Control: no-cache, {requests} requests per cell"
    )
    print(f"  {'clients':>7}  {'path':10}{'p50':>10}{'p99':>10}{'q/s':>9}{'p50 / raw':>11}")
    for c in CONCURRENCY:
        for path in levels:
            cell, raw_p50 = levels[path][c], levels["raw"][c]["p50_ms"]
            print(
                f"  {c:>7}  {path:10}{cell['p50_ms']:>7.1f} ms{cell['p99_ms']:>7.1f} ms{cell['qps']:>9.1f}"
                f"{cell['p50_ms'] / raw_p50:>11.2f}"
            )
    print(
        f"  raw = compute /embed kind=query + Chroma HTTP query (n_results {OVERFETCH_FETCH}, as dense asks); "
        f"hybrid p50 / raw p50 at 8 clients: {ratios['hybrid']:.2f} (target <= 2)"
    )


def bench_search(
    api: httpx.Client,
    compute: httpx.Client,
    chroma: httpx.Client,
    name: str,
    queries: list[str],
    requests: int,
    built: dict,
) -> dict:
    """p50/p99 and q/s at each of CONCURRENCY's client counts for every mode and the raw path, with
    Cache-Control: no-cache; the raw path is what dense search costs at the least (embed + Chroma query)."""
    coll = api.get(f"/api/v1/collections/{name}").raise_for_status().json()
    base = "/api/v2/tenants/default_tenant/databases/default_database/collections"
    cid = chroma.get(f"{base}/{coll['chroma_name']}").raise_for_status().json()["id"]

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

    paths = {"raw": raw} | {
        mode: (lambda q, m=mode: timed_post(api, search_json(q, name, SEARCH_TOP_K, m), NO_CACHE))
        for mode in MODES
    }
    levels: dict[str, dict[int, dict]] = {path: {} for path in paths}
    for c in CONCURRENCY:  # every path at one level before the next, so all see the same machine
        for path, fn in paths.items():
            levels[path][c] = timed(fn, queries, requests, c)
    ratios = {m: round(levels[m][8]["p50_ms"] / levels["raw"][8]["p50_ms"], 2) for m in MODES}
    print_latency(levels, built, requests, ratios)
    return {
        "collection": built,
        "latency": levels,
        "p50_ratio_to_raw_at_8": ratios,
        "hybrid_p50_ratio_at_8": ratios["hybrid"],
        "target_ratio_at_8": 2.0,
    }


# ---------------------------------------------------------------- 4. query cache


def bench_cache(api: httpx.Client, api_url: str, name: str, query: str, hits: int, mode: str) -> dict:
    """One query never asked before: a miss, then `hits` repeats, each followed by the same request with
    no-cache (alternated, so both see the same machine); the cache's counters say what was a hit."""
    body = search_json(query, name, SEARCH_TOP_K, mode)
    before = metric_families(api_url, "orchestrator_search_cache_")
    miss_s = timed_post(api, body)
    cached, uncached = [], []
    for _ in range(hits):
        cached.append(timed_post(api, body))
        uncached.append(timed_post(api, body, NO_CACHE))
    after = metric_families(api_url, "orchestrator_search_cache_")
    counted = {
        k: int(sum(v) - sum(before.get(k, [0.0]))) for k, v in after.items() if not k.endswith("ratio")
    }
    out = {
        "mode": mode,
        "first_ms": round(1000 * miss_s, 1),
        "repeat": latency(cached),
        "no_cache": latency(uncached),
        "counters": counted,
        "target_hit_p50_ms": 10,
    }
    print(
        f"\nQuery cache: one query on the search collection ({out['mode']}, top_k {SEARCH_TOP_K}), 1 client, "
        f"{hits} repeats alternated with no-cache"
    )
    print(f"  {'':28}{'p50':>10}{'p99':>10}")
    print(f"  {'first (a miss)':28}{out['first_ms']:>7.1f} ms")
    for label, key in (("repeats (hits)", "repeat"), ("Cache-Control: no-cache", "no_cache")):
        print(f"  {label:28}{out[key]['p50_ms']:>7.1f} ms{out[key]['p99_ms']:>7.1f} ms")
    shown = ", ".join(f"{k} +{v}" for k, v in sorted(counted.items())) or "none: no cache metrics"
    print(f"  counters over the test: {shown}; target: hit p50 < 10 ms")
    return out


# ---------------------------------------------------------------- timing


def timed_post(api: httpx.Client, body: dict, headers: dict[str, str] | None = None) -> float:
    """Seconds one POST /api/v1/search takes."""
    started = time.perf_counter()
    api.post("/api/v1/search", json=body, headers=headers).raise_for_status()
    return time.perf_counter() - started


def timed(fn: Callable[[str], float], queries: list[str], requests: int, c: int) -> dict:
    """`requests` calls of fn (each returns its own seconds) from `c` threads, after a few to warm."""
    qs = [queries[i % len(queries)] for i in range(requests)]
    with ThreadPoolExecutor(c) as pool:
        list(pool.map(fn, qs[: min(c, 8)]))  # warm
        started = time.perf_counter()
        lat = list(pool.map(fn, qs))
        wall = time.perf_counter() - started
    return latency(lat) | {"qps": round(len(lat) / wall, 1)}


def latency(seconds: list[float]) -> dict:
    return {
        "p50_ms": round(1000 * statistics.median(seconds), 1),
        "p99_ms": round(1000 * pct(seconds, 0.99), 1),
        "requests": len(seconds),
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
