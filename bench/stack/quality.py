"""Part 2 of the stack bench: retrieval quality of each search mode on one SciFact collection (the
collection's default chunking), its test queries through /api/v1/search at top_k 100, nDCG@10 and recall@100
by the best chunk per document, beside published anchors and this stack's targets."""

import math
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.stack.api_calls import MODES, NO_CACHE, search_json

PUBLISHED_NDCG10 = 0.64508  # BEIR, all-MiniLM-L6-v2 on SciFact
ANCHORS = (  # published SciFact nDCG@10 to read this stack's figures against
    ("dense, all-MiniLM-L6-v2 (BEIR)", "0.645"),
    ("BM25 (BEIR paper)", "0.665"),
    ("BM25 (Lucene/Elasticsearch settings)", "0.676-0.690"),
)
TARGETS = {  # nDCG@10 on the full corpus: (lowest, highest or None, as printed)
    "dense": (0.640, 0.650, "0.645 +- 0.005"),
    "lexical": (0.68, None, ">= 0.68"),
    "hybrid": (0.71, None, ">= 0.71"),
}


def bench_quality(
    api: httpx.Client,
    name: str,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    qids: list[str],
    documents: int,
    full: bool,
) -> dict:
    """nDCG@10 and recall@100 of each mode on the same collection and queries."""

    def ranked(mode: str, qid: str) -> list[str]:
        body = search_json(queries[qid], name, 100, mode)
        hits = api.post("/api/v1/search", json=body, headers=NO_CACHE).raise_for_status().json()["results"]
        out: list[str] = []
        for hit in hits:  # best chunk per document: its first appearance
            did = str(hit["metadata"].get("doc_id") or Path(hit["filename"]).stem)
            if did not in out:
                out.append(did)
        return out

    out: dict = {
        "queries": len(qids),
        "documents": documents,
        "published_ndcg_at_10": PUBLISHED_NDCG10,
        "anchors_ndcg_at_10": dict(ANCHORS),
    }
    for mode in MODES:
        with ThreadPoolExecutor(4) as pool:
            rankings = dict(zip(qids, pool.map(lambda q, m=mode: ranked(m, q), qids), strict=True))
        out[mode] = scores(qrels, rankings)
    print(
        f"\nRetrieval quality: SciFact, {len(qids)} test queries over {documents} documents, top_k 100 chunks, "
        "best chunk per document, one collection for every mode"
    )
    print(f"  {'':50}{'nDCG@10':>11}{'recall@100':>12}  target")
    for mode in MODES:
        low, high, shown = TARGETS[mode]
        ndcg = out[mode]["ndcg_at_10"]
        verdict = ("met" if ndcg >= low and (high is None or ndcg <= high) else "MISSED") if full else "n/a"
        out[mode]["target"] = shown
        out[mode]["target_met"] = verdict == "met" if full else None
        print(
            f"  {'this stack, ' + mode:50}{ndcg:>11.4f}{out[mode]['recall_at_100']:>12.4f}  {shown} {verdict}"
        )
    for anchor, value in ANCHORS:
        print(f"  {'published: ' + anchor:50}{value:>11}")
    if not full:
        print("  --quick: a subset of queries over their relevant documents and a few others; targets n/a")
    return out


def scores(qrels: dict[str, dict[str, int]], rankings: dict[str, list[str]]) -> dict:
    """Mean nDCG@10 (graded, as BEIR) and recall@100 of document rankings against the qrels."""
    ndcgs, recalls = [], []
    for qid, ranked in rankings.items():
        rel = qrels[qid]
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
        ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rel.values(), reverse=True)[:10]))
        ndcgs.append(dcg / ideal if ideal else 0.0)
        recalls.append(len(set(ranked[:100]) & set(rel)) / len(rel))
    return {
        "ndcg_at_10": round(statistics.fmean(ndcgs), 4),
        "recall_at_100": round(statistics.fmean(recalls), 4),
    }
