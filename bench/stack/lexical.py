"""Part 5 of the stack bench, and the waits before the others: the lexical index (tantivy, in the API
process) as the run left it, its chunks, size on disk (the metric and du), MB per 100,000 chunks and the
API's memory, then a rebuild from nothing timed to /readyz and to caught up."""

import time
from pathlib import Path

from bench.stack.api_calls import metric_families
from bench.stack.services import Stack

LEXICAL_WAIT_S = 900  # for the lexical index to catch up (or to rebuild) before it is measured
MB = 1024 * 1024  # as the memory figures: MiB, printed "MB"


def caught_up(stack: Stack, chunks: int, what: str) -> dict:
    """Waits for the lexical index to hold what was ingested, so that no measure sees it behind."""
    state = wait_lexical(stack.api, chunks, LEXICAL_WAIT_S)
    if not state.get("absent"):
        late = "; timed out, measuring anyway" if state["timed_out"] else ""
        print(f"  waited {state['waited_s']:.1f} s for the lexical index to hold {what}{late}")
    return state


def print_lexical(out: dict) -> None:
    """The index's figures as bench_lexical measured them, then its rebuild's."""
    chunks, before, disk = out["chunks_expected"], out["metrics"], out["du_bytes"]
    indexed = int(before.get("chunks", 0))
    caught, after = out["rebuild"]["caught_up"], out["rebuild"]["metrics_after"]
    rebuild = out["rebuild"]
    print(
        f"\nLexical index (tantivy, in the API process, every collection of this run: {chunks} chunks ingested)"
    )
    if not before:
        print("  the API exports no orchestrator_lexical_* metrics: no index to measure beyond du")
    print(f"  {'chunks indexed':44}{indexed:>10}")
    print(
        f"  {'index on disk, metric / du':44}{before.get('index_bytes', 0) / MB:>7.1f} MB"
        f"{disk / MB:>7.1f} MB  ({out['dir']})"
    )
    per_100k = f"{out['mb_per_100k_chunks']:>7.1f} MB" if indexed else f"{'n/a':>10}"
    print(f"  {'per 100,000 chunks (extrapolated, linear)':44}{per_100k}")
    mem = out["api_memory_mb"]
    print(f"  {'API process VmRSS / VmHWM':44}{mem.get('VmRSS', 0):>7.1f} MB{mem.get('VmHWM', 0):>7.1f} MB")
    print("  rebuild: API stopped, its lexical directory deleted, started again")
    print(f"  {'  start -> /readyz 200':44}{rebuild['start_to_ready_s']:>8.1f} s")
    if not caught.get("absent"):
        late = " (timed out)" if caught.get("timed_out") else ""
        print(
            f"  {'  start -> caught up, all chunks indexed':44}{rebuild['start_to_caught_up_s']:>8.1f} s{late}"
        )
        print(
            f"  {'  orchestrator_lexical_last_rebuild_seconds':44}{after.get('last_rebuild_seconds', 0):>8.1f} s"
        )
        print(f"  {'  rebuilds counted by the new process':44}{int(after.get('rebuilds', 0)):>10}")
        print(f"  {'  chunks indexed after':44}{int(after.get('chunks', 0)):>10}")
        print(f"  {'  index on disk after (du)':44}{rebuild['du_bytes_after'] / MB:>7.1f} MB")
    mem = rebuild["api_memory_mb_after"]
    print(
        f"  {'  API VmRSS / VmHWM after (new process)':44}{mem.get('VmRSS', 0):>7.1f} MB"
        f"{mem.get('VmHWM', 0):>7.1f} MB"
    )


def bench_lexical(stack: Stack, chunks: int) -> dict:
    """The index as the run left it (every collection's chunks), then a rebuild from nothing: the API
    stopped, its lexical directory deleted, started again."""
    before = lexical_metrics(stack.api)
    disk = du_bytes(stack.lexical_dir)
    memory = stack.memory_kb("orchestrator")
    with stack.phase("lexical rebuild"):
        ready_s = stack.restart_api(wipe_lexical=True)
        caught = wait_lexical(stack.api, chunks, LEXICAL_WAIT_S)
    after = lexical_metrics(stack.api) if not caught.get("absent") else {}
    indexed = int(before.get("chunks", 0))
    size = before.get("index_bytes", disk)
    out = {
        "chunks_expected": chunks,
        "metrics": before,
        "du_bytes": disk,
        "dir": str(stack.lexical_dir),
        "mb_per_100k_chunks": round(size / MB * 100_000 / indexed, 1) if indexed else None,
        "api_memory_mb": {k: round(v / 1024, 1) for k, v in memory.items()},
        "rebuild": {
            "start_to_ready_s": round(ready_s, 2),
            "start_to_caught_up_s": round(ready_s + caught.get("waited_s", 0.0), 2),
            "caught_up": caught,
            "metrics_after": after,
            "du_bytes_after": du_bytes(stack.lexical_dir),
            "api_memory_mb_after": {
                k: round(v / 1024, 1) for k, v in stack.memory_kb("orchestrator").items()
            },
        },
    }
    print_lexical(out)
    return out


# ---------------------------------------------------------------- its figures


def du_bytes(path: Path) -> int:
    """Bytes of the files under path (0 when it is absent)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def lexical_metrics(api_url: str) -> dict[str, float]:
    """The lexical index's figures over every label set (slot, collection): sums, except `caught_up`
    (all must be) and `last_rebuild_seconds` (the longest)."""
    families = metric_families(api_url, "orchestrator_lexical_")
    pick = {"caught_up": min, "last_rebuild_seconds": max}
    return {name: pick.get(name, sum)(values) for name, values in families.items() if values}


def wait_lexical(api_url: str, chunks: int, timeout_s: float) -> dict:
    """Until the lexical index says it is caught up and holds at least `chunks` chunks: the seconds
    waited and the last figures; {"absent": True} at once when the API exports no lexical metrics."""
    started = time.perf_counter()
    while True:
        figures = lexical_metrics(api_url)
        if not figures:
            return {"absent": True}
        done = figures.get("caught_up", 1) >= 1 and figures.get("chunks", chunks) >= chunks
        waited = time.perf_counter() - started
        if done or waited > timeout_s:
            return {"waited_s": round(waited, 2), "timed_out": not done, "metrics": figures}
        time.sleep(0.25)
