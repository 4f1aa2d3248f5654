"""`make bench`: the whole stack, as a user would measure it. Starts its own Redis, Chroma, compute and
orchestrator API (in-process workers, its lexical index in the temporary data directory) on free ports, the
way `make run` does (deploy/run_stack.py), prints the CPU's model and whether it has AMX / AVX-512 BF16,
then measures:

0. one generated PDF of 2,000 pages (200 with --quick) through the API with the default caps: ingest
   time, the parse stage's pages per second, its windows, the parse worker's peak memory;
1. ingest throughput (chunks/s) through the API, from the first upload to the end of the last job, beside
   compute's `/embed` alone on the same chunk texts (fetched back from the API) in the same run;
2. retrieval quality per search mode (dense, lexical, hybrid) on one collection: SciFact through the API
   (the collection's default chunking), its test queries through /api/v1/search with top_k=100, nDCG@10
   and recall@100 by the best chunk per document, beside the published anchors (dense 0.645 BEIR; BM25
   0.665 BEIR, 0.676-0.690 Lucene settings) and the targets (hybrid >= 0.71, lexical >= 0.68, dense
   0.645 +- 0.005);
3. search latency p50/p99 at 1, 8 and 32 concurrent clients per mode through POST /api/v1/search on a
   collection of at least 50,000 chunks (SciFact abstracts cut with the `sentence` strategy at a small
   max_tokens, the corpus uploaded again with a copy marker until there are enough chunks), interleaved
   with the raw path: query embedding (compute /embed kind=query) plus a raw Chroma HTTP query with the
   same n_results the API asks for; every request sends `Cache-Control: no-cache`;
4. query-cache hits: one query asked again and again (a miss, then hits) beside the same query with
   no-cache, alternated;
5. the lexical index: chunks, size on disk (the metric and du), MB per 100,000 chunks (extrapolated), the
   API's VmRSS/VmHWM, and a rebuild: API stopped, its lexical directory deleted, started again, timed to
   /readyz and to caught up, beside orchestrator_lexical_last_rebuild_seconds;
6. retrieval quality per embedding backend (fp32, int8, bf16 where the CPU has it): compute restarted with
   each, the SciFact documents of part 1 ingested again (except for the backend part 2 already measured),
   dense nDCG@10 and recall@100, int8 against fp32 (target: within 0.005);
7. the peak resident memory (VmHWM) of every process of the stack, sampled during the whole run.

`--quick`: small sizes (300 documents, a 5,000-chunk search collection, 50 queries). Runs from the
orchestrator environment: httpx only, no ML import. Writes bench/results/stack.json (stack-quick.json with
--quick). Each part is a module of its own (stack_ingest, stack_quality, stack_search for latency and the
cache, stack_lexical), stack_support holds the stack and what they share; this one runs them in order and
writes the figures."""

import argparse
import json
import os
import random
import signal
import sys
import tempfile
from pathlib import Path

import httpx

from bench.stack_backends import bench_backends
from bench.stack_big import bench_big_pdf
from bench.stack_ingest import bench_ingest
from bench.stack_lexical import bench_lexical, caught_up
from bench.stack_quality import bench_quality
from bench.stack_search import SEARCH_GROUP, bench_cache, bench_search, build_search_collection
from bench.stack_support import MODES, SCIFACT, Stack, cpu_info, create_collection, grouped, load_scifact

RESULTS = Path(__file__).resolve().parent / "results"
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
    cpu = cpu_info()
    results: dict = {"mode": mode, "sizes": size, "cores": os.cpu_count(), "cpu": cpu}
    yes = {True: "yes", False: "no"}
    print(
        f"CPU: {cpu['model']}, {cpu['cores']} cores; AMX {yes[cpu['amx']]}, AVX-512 BF16 "
        f"{yes[cpu['avx512_bf16']]}, AVX-512F {yes[cpu['avx512f']]}"
    )
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
                # First: compute's parse-peak gauge then holds this document's peak alone.
                results["big_pdf"] = bench_big_pdf(stack, api, Path(tmp), size["big_pdf_pages"])
                if not (SCIFACT / "corpus.jsonl.gz").is_file():
                    print(f"\n{SCIFACT} is absent: the SciFact parts are skipped")
                    results["skipped"] = f"{SCIFACT} absent"
                else:
                    scifact_parts(stack, api, compute, chroma, size, not args.quick, results)
        finally:
            stack.stop()

    print_cpu_and_memory(stack, results)
    out = RESULTS / ("stack-quick.json" if args.quick else "stack.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


def print_cpu_and_memory(stack: Stack, results: dict) -> None:
    results["cpu_seconds_by_phase"] = stack.phase_cpu_s
    print(
        "\nCPU seconds used in each phase (user + system; the machine has "
        f"{os.cpu_count()} cores; 'ingest N' = N abstracts per file, 'embed N' = /embed alone on its chunks)"
    )
    labels = sorted({k for v in stack.phase_cpu_s.values() for k in v})
    print(f"  {'process':20}" + "".join(f"{p:>16}" for p in stack.phase_cpu_s))
    for label in labels:
        print(f"  {label:20}" + "".join(f"{v.get(label, 0):>16.1f}" for v in stack.phase_cpu_s.values()))
    mb = {k: round(v / 1024, 1) for k, v in sorted(stack.peak_kb.items())}
    phases = {
        p: {k: round(v / 1024, 1) for k, v in peaks.items()} for p, peaks in stack.phase_peak_kb.items()
    }
    results["peak_rss_mb"] = mb
    results["peak_rss_mb_by_phase"] = phases
    print("\nPeak resident memory (VmHWM, MB): the whole run, then each phase alone")
    targets = {"orchestrator": 300, "compute": 1200}
    print(f"  {'process':20}{'run':>9}" + "".join(f"{p:>16}" for p in phases) + "  target")
    for label, value in mb.items():
        cells = "".join(f"{phases[p].get(label, 0):>16.1f}" for p in phases)
        target = f"  <= {targets[label]}" if label in targets else ""
        print(f"  {label:20}{value:>9.1f}{cells}{target}")


if __name__ == "__main__":
    sys.exit(main())
