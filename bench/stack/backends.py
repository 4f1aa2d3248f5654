"""Part 6 of the stack bench: SciFact retrieval quality per embedding backend, through the API. compute is
restarted with COMPUTE_EMBED_BACKEND set to each backend this CPU can run (fp32, int8, and bf16 where it
runs in hardware); the same documents go into a collection of each, and the same test queries are asked
in dense mode (the backend embeds the queries too). Target: int8's nDCG@10 within 0.005 of fp32's."""

import httpx

from bench.stack.api_calls import NO_CACHE, create_collection, ingest, search_json
from bench.stack.quality import scores
from bench.stack.services import Stack

INT8_MAX_NDCG_LOSS = 0.005


def ranked(api: httpx.Client, collection: str, query: str) -> list[str]:
    body = search_json(query, collection, 100, "dense")
    hits = api.post("/api/v1/search", json=body, headers=NO_CACHE).raise_for_status().json()["results"]
    out: list[str] = []
    for hit in hits:  # best chunk per document
        if (did := str(hit["metadata"].get("doc_id"))) not in out:
            out.append(did)
    return out


def bench_backends(
    stack: Stack,
    api: httpx.Client,
    docs: list[dict],
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    qids: list[str],
    backends: list[str],
    measured: dict[str, dict],
) -> dict:
    """`measured`: backends whose figures on these documents and queries are known already (the stack's
    own, from part 2): not ingested again."""
    out: dict = {"documents": len(docs), "queries": len(qids), **measured}
    for backend in (b for b in backends if b not in measured):
        print(
            f"\ncompute with COMPUTE_EMBED_BACKEND={backend}: ingesting {len(docs)} SciFact documents...",
            flush=True,
        )
        stack.restart_compute({"COMPUTE_EMBED_BACKEND": backend})
        model = httpx.get(f"{stack.compute}/models", timeout=30).raise_for_status().json()["models"][0]
        name = f"scifact-{backend}"
        create_collection(api, name)
        ingested = ingest(api, name, docs)
        rankings = {qid: ranked(api, name, queries[qid]) for qid in qids}
        out[backend] = {
            **scores(qrels, rankings),
            "dtype": model["dtype"],
            "engine": model["backend"],
            "selection": model.get("selection"),
            "ingest_chunks_per_s": round(ingested["chunks"] / ingested["seconds"], 1),
        }
    stack.restart_compute({"COMPUTE_EMBED_BACKEND": "auto"})
    base = out.get("fp32", {}).get("ndcg_at_10")
    print(
        f"\nRetrieval quality per embedding backend: SciFact, {len(qids)} queries, {len(docs)} documents, dense"
    )
    print(
        f"  {'backend':10}{'dtype':>10}{'nDCG@10':>10}{'vs fp32':>10}{'recall@100':>12}{'ingest ch/s':>13}  target"
    )
    for backend in backends:
        row = out[backend]
        delta = row["ndcg_at_10"] - base if base is not None else float("nan")
        row["ndcg_vs_fp32"] = round(delta, 4)
        target = ""
        if backend == "int8" and base is not None:
            row["target_met"] = delta >= -INT8_MAX_NDCG_LOSS
            target = f"within {INT8_MAX_NDCG_LOSS} of fp32: {'met' if row['target_met'] else 'MISSED'}"
        print(
            f"  {backend:10}{row['dtype']:>10}{row['ndcg_at_10']:>10.4f}{delta:>+10.4f}"
            f"{row['recall_at_100']:>12.4f}{row['ingest_chunks_per_s']:>13.1f}  {target}"
        )
    return out
