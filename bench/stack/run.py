"""The order of the whole-stack benchmark's SciFact parts (1 to 6), and the sizes of a full and a quick
run."""

import httpx

from bench.stack.api_calls import MODES, create_collection
from bench.stack.backends import bench_backends
from bench.stack.ingest import bench_ingest
from bench.stack.lexical import bench_lexical, caught_up
from bench.stack.quality import bench_quality
from bench.stack.scifact import grouped, load_scifact
from bench.stack.search import SEARCH_GROUP, bench_cache, bench_search, build_search_collection
from bench.stack.services import Stack

SIZES = {
    "quick": {
        "ingest_docs": 300,
        "grouped_abstracts": 250,
        "search_chunks": 5_000,
        "queries": 50,
        "search_requests": 64,
        "cache_hits": 50,
        "big_pdf_pages": 200,
    },
    "full": {
        "ingest_docs": None,
        "grouped_abstracts": 1_000,
        "search_chunks": 50_000,
        "queries": None,
        "search_requests": 320,
        "cache_hits": 200,
        "big_pdf_pages": 2_000,
    },
}


def scifact_parts(
    stack: Stack,
    api: httpx.Client,
    compute: httpx.Client,
    chroma: httpx.Client,
    size: dict,
    full: bool,
    results: dict,
) -> None:
    """Parts 1 to 5 in order, into `results`: the lexical index last, as its rebuild restarts the API."""
    corpus, queries, qrels = load_scifact()
    qids = sorted(qrels, key=int)[: size["queries"]] if size["queries"] else sorted(qrels, key=int)
    if size["ingest_docs"]:  # the relevant documents of the queries scored, then others
        wanted = {d for q in qids for d in qrels[q]}
        rel = [d for d in corpus if d["_id"] in wanted]
        rest = [d for d in corpus if d["_id"] not in wanted]
        docs = (rel + rest)[: max(size["ingest_docs"], len(rel))]
    else:
        docs = corpus
    results["modes"] = list(MODES)
    # 1 and 2 share one collection: the SciFact documents, default chunking
    create_collection(api, "scifact")
    print(f"\ningesting {len(docs)} SciFact documents (default chunking)...", flush=True)
    results["ingest"] = bench_ingest(
        stack, api, compute, docs, "scifact", "one abstract per file", "ingest 1"
    )
    chunks = results["ingest"]["chunks"]
    results["lexical_lag"] = {"scifact": caught_up(stack, chunks, "scifact")}
    with stack.phase("quality"):
        results["quality"] = bench_quality(api, "scifact", queries, qrels, qids, len(docs), full)
    # the same measure on documents of a few pages: the per-document costs spread over more chunks
    create_collection(api, "scifact-grouped")
    files = grouped(corpus[: size["grouped_abstracts"]], SEARCH_GROUP)
    print(
        f"\ningesting {size['grouped_abstracts']} SciFact abstracts, {SEARCH_GROUP} per file...", flush=True
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
    print(f"\nbuilding the search collection (>= {size['search_chunks']} chunks)...", flush=True)
    with stack.phase("search build"):
        built = build_search_collection(api, corpus, "search", size["search_chunks"])
    chunks += results["ingest_grouped"]["chunks"] + built["chunks"]
    results["lexical_lag"]["search"] = caught_up(stack, chunks, "the search collection")
    qtexts = [queries[q] for q in sorted(queries, key=int)]
    with stack.phase("search"):
        results["search"] = bench_search(
            api, compute, chroma, "search", qtexts, size["search_requests"], built
        )
    with stack.phase("cache"):  # the last query text: one the latency runs never asked
        results["cache"] = bench_cache(api, stack.api, "search", qtexts[-1], size["cache_hits"], "hybrid")
    results["lexical"] = bench_lexical(stack, chunks)  # it restarts the API
    results["backends"] = backend_quality(stack, api, compute, docs, queries, qrels, qids, results)


def backend_quality(
    stack: Stack,
    api: httpx.Client,
    compute: httpx.Client,
    docs: list[dict],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    qids: list[str],
    results: dict,
) -> dict:
    """Part 6: the backends this CPU runs; the one the stack chose itself is part 2's dense figure."""
    model = compute.get("/models").raise_for_status().json()
    chosen = {"float32": "fp32", "bfloat16": "bf16", "int8": "int8"}[model["models"][0]["dtype"]]
    backends = ["fp32", "int8"] + (["bf16"] if model["cpu_bf16"] else [])
    dense = results["quality"]["dense"]
    measured = {
        chosen: {
            **dense,
            "dtype": model["models"][0]["dtype"],
            "engine": model["models"][0]["backend"],
            "selection": model["models"][0].get("selection"),
            "ingest_chunks_per_s": results["ingest"]["ingest_chunks_per_s"],
        }
    }
    return bench_backends(stack, api, docs, queries, qrels, qids, backends, measured)
