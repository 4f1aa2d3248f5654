"""Part 1 of the stack bench: ingest throughput through the API (first upload to the end of the last job)
beside compute's `/embed` alone on the same chunk texts, fetched back from the API, in the same run."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.stack.api_calls import chunk_texts, ingest
from bench.stack.services import EMBED_BATCH_TEXTS, Stack

EMBED_CONCURRENCY = 2  # /embed alone: one request encoding, one waiting, so the model never idles


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


def route_deltas(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, dict]:
    """Requests and mean milliseconds per compute route between two readings of its metrics."""
    spent = {}
    for route in ("/parse", "/chunk", "/embed"):
        n0, s0 = before.get(route, (0.0, 0.0))
        n1, s1 = after.get(route, (0.0, 0.0))
        spent[route] = {"requests": int(n1 - n0), "mean_ms": round(1000 * (s1 - s0) / max(1.0, n1 - n0), 1)}
    return spent


def bench_ingest(
    stack: Stack,
    api: httpx.Client,
    compute: httpx.Client,
    docs: list[dict],
    collection: str,
    label: str,
    phase: str,
) -> dict:
    """Ingests `docs` into the (created) collection within `phase`, then posts their chunk texts to /embed
    alone, in batches as the orchestrator's, within "embed N"; prints the table, returns the figures."""
    before = compute_route_seconds(compute)
    with stack.phase(phase):
        result = ingest(api, collection, docs)
    spent = route_deltas(before, compute_route_seconds(compute))
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
