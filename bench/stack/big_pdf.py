"""Part 0 of the stack bench: one long generated PDF (2,000 pages by default) through the API with the
default caps, parsed a window of pages at a time: its ingest time, the parse stage's pages per second
(from the job's first to its last progress event in pages), the windows seen in its events, and the parse
worker's peak resident memory (compute's own per-document gauge, so this part runs first)."""

import json
import time
from pathlib import Path

import httpx

from bench.stack.api_calls import create_collection, metric_families, wait_jobs
from bench.stack.services import Stack
from tests.support.documents import book_pdf

LINES_PER_PAGE = 20  # a page of a manual: about 1,800 characters of text


def _stream_ms(event_id: str) -> int:
    return int(event_id.split("-", 1)[0])  # a Redis stream id starts with its time in ms


def page_events(api: httpx.Client, job_id: str) -> list[tuple[int, int, int | None]]:
    """(time in ms, pages done, pages in all) of each progress event counted in pages."""
    out = []
    for block in api.get(f"/api/v1/jobs/{job_id}/events").text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") != "progress":
            continue
        progress = json.loads(fields["data"]).get("progress") or {}
        if progress.get("unit") == "pages":
            out.append((_stream_ms(fields["id"]), progress["done"], progress.get("total")))
    return out


def bench_big_pdf(stack: Stack, api: httpx.Client, folder: Path, pages: int) -> dict:
    path = book_pdf(folder / f"manual-{pages}.pdf", pages, lines_per_page=LINES_PER_PAGE)
    create_collection(api, "big-pdf")
    print(
        f"\ningesting one generated PDF of {pages} pages ({path.stat().st_size / 2**20:.1f} MB)...",
        flush=True,
    )
    with stack.phase("big pdf"):
        started = time.perf_counter()
        with path.open("rb") as fh:
            accepted = (
                api.post("/api/v1/collections/big-pdf/documents", files={"file": (path.name, fh)})
                .raise_for_status()
                .json()
            )
        job = wait_jobs(api, [accepted["job_id"]])[0]
        seconds = time.perf_counter() - started
    document = api.get(f"/api/v1/documents/{accepted['document_id']}").json()
    events = page_events(api, accepted["job_id"])
    windows = [done for _, done, _ in events if done]
    parse_s = (events[-1][0] - events[0][0]) / 1000 if len(events) > 1 else float("nan")
    peak = metric_families(stack.compute, "compute_parse_worker_peak_rss_bytes").get("", [0.0])
    peak_mb = max(peak) / 2**20
    result = {
        "pages": pages,
        "status": job["status"],
        "error": job.get("error"),
        "chunks": document.get("chunk_count"),
        "ingest_s": round(seconds, 1),
        "parse_s": round(parse_s, 1),
        "parse_pages_per_s": round(pages / parse_s, 1) if parse_s == parse_s and parse_s else None,
        "windows": len(windows),
        "first_windows": windows[:4],
        "parse_worker_peak_mb": round(peak_mb, 1),
    }
    print(
        f"  {job['status']}: {result['chunks']} chunks; ingest {seconds:.1f} s ({pages / seconds:.1f} pages/s), "
        f"parse {parse_s:.1f} s ({result['parse_pages_per_s']} pages/s) in {len(windows)} windows "
        f"(progress {windows[:3]}...); parse worker peak {peak_mb:.0f} MB (target < 1024)"
    )
    return result
