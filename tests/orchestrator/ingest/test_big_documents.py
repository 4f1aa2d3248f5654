"""Long PDFs through the API on real Redis, Chroma and compute: parsed a window of pages at a time with the
default caps, in bounded memory, with progress in pages window by window; a parse worker killed mid-
document makes the job retry, and the retry resumes after the last window kept."""

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.settings import Settings
from tests.support import CORPUS, ComputeServer, documents, parse_worker_pids
from tests.support.api import API, create_collection, running_app, search, stack_settings, upload, wait_job

PEAK_CAP_MB = 1024
WINDOW = 50  # the orchestrator's default ORCH_PARSE_WINDOW_PAGES


@pytest.fixture(scope="module")
def compute(tmp_path_factory: pytest.TempPathFactory, compute_token: str) -> Iterator[ComputeServer]:
    """A compute service of this module's own, with the default caps: its parse workers are killed here,
    and its peak-memory gauge counts this module's documents only."""
    server = ComputeServer(
        tmp_path_factory.mktemp("big-compute") / "compute.log", COMPUTE_SERVICE_TOKEN=compute_token
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def stack(
    redis, settings: Settings, chroma_url: str, compute: ComputeServer, compute_token: str
) -> AsyncIterator[tuple[Settings, httpx.AsyncClient]]:
    api_settings = stack_settings(settings.redis_url, chroma_url, compute.url, compute_token, api_workers=1)
    async with running_app(api_settings) as (_, client):
        yield api_settings, client


def page_progress(events_text: str) -> list[int]:
    """The `done` of every progress event counted in pages, in order (0 at the start of each attempt)."""
    out = []
    for block in events_text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines.get("event") == "progress":
            progress = json.loads(lines["data"]).get("progress") or {}
            if progress.get("unit") == "pages":
                out.append(progress["done"])
    return out


async def events(client: httpx.AsyncClient, job_id: str) -> str:
    return (await client.get(f"{API}/jobs/{job_id}/events")).text


def peak_parse_rss_mb(compute: ComputeServer) -> float:
    for line in httpx.get(compute.url + "/metrics").text.splitlines():
        if line.startswith("compute_parse_worker_peak_rss_bytes "):
            return float(line.split()[1]) / 2**20
    raise AssertionError("compute reports no parse peak")


async def ingest_long(client: httpx.AsyncClient, collection: str, path: Path) -> tuple[dict, list[int]]:
    response = await upload(client, collection, path.name, path.read_bytes())
    assert response.status_code == 202, response.text
    job = await wait_job(client, response.json()["job_id"], timeout_s=900)
    assert job["status"] == "succeeded", job
    document = (await client.get(f"{API}/documents/{response.json()['document_id']}")).json()
    assert document["status"] == "ready", document
    return document, page_progress(await events(client, job["id"]))


async def test_a_2000_page_pdf_and_the_corpus_400_page_pdf_ingest_window_by_window(
    stack, compute: ComputeServer, tmp_path: Path
) -> None:
    _, client = stack
    await create_collection(client, "manuals")
    book = documents.book_pdf(tmp_path / "manual-2000.pdf", 2000, lines_per_page=6)
    document, progress = await ingest_long(client, "manuals", book)
    assert document["pages"] == 2000
    assert progress == [0, *range(WINDOW, 2001, WINDOW)]
    corpus = CORPUS / "awkward" / "huge" / "pdf2image-memory-error-test-400p.pdf"
    if corpus.is_file():  # ../shared beside the clone, as CI has it
        document, progress = await ingest_long(client, "manuals", corpus)
        assert document["pages"] == 400
        assert progress == [0, *range(WINDOW, 401, WINDOW)]
    peak_mb = peak_parse_rss_mb(compute)
    print(f"parse worker peak {peak_mb:.0f} MB")
    assert peak_mb < PEAK_CAP_MB
    hits = await search(client, "1234", ["manuals"], mode="lexical", top_k=5)
    assert any("of page 1234:" in hit["text"] for hit in hits), hits


async def _wait_pages(client: httpx.AsyncClient, job_id: str, pages: int, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        progress = (await client.get(f"{API}/jobs/{job_id}")).json().get("progress") or {}
        if progress.get("unit") == "pages" and progress.get("done", 0) >= pages:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never parsed {pages} pages")


async def test_a_parse_worker_killed_mid_document_and_the_retry_resumes(
    redis, settings: Settings, chroma_url: str, compute: ComputeServer, compute_token: str, tmp_path: Path
) -> None:
    # One try per compute call: the killed window fails the attempt, so that the job's retry is seen.
    api_settings = stack_settings(
        settings.redis_url,
        chroma_url,
        compute.url,
        compute_token,
        api_workers=1,
        compute_max_attempts=1,
        parse_window_pages=10,
    )
    book = documents.book_pdf(tmp_path / "manual-300.pdf", 300, lines_per_page=20)
    async with running_app(api_settings) as (_, client):
        await create_collection(client, "killed")
        response = await upload(client, "killed", book.name, book.read_bytes())
        job_id = response.json()["job_id"]
        await _wait_pages(client, job_id, 60)
        for pid in parse_worker_pids(compute.proc.pid):  # mid-window: the kernel's OOM killer, say
            os.kill(pid, signal.SIGKILL)
        job = await wait_job(client, job_id, timeout_s=600)
        assert job["status"] == "succeeded" and job["attempts"] == 2, job
        progress = page_progress(await events(client, job_id))
        restart = progress.index(0, 1)  # the second attempt's start
        first_try, retry = progress[1:restart], progress[restart + 1 :]
        assert first_try == list(range(10, first_try[-1] + 1, 10)) and first_try[-1] >= 60
        # The retry starts from the last window kept (the one killed was not), not from page 1.
        assert retry[0] in (first_try[-1], first_try[-1] - 10) and retry[0] >= 60
        assert retry == list(range(retry[0], 301, 10))
        document = (await client.get(f"{API}/documents/{response.json()['document_id']}")).json()
        assert document["status"] == "ready" and document["pages"] == 300
        hits = await search(client, "1", ["killed"], mode="lexical", top_k=3)
        assert hits
        # The job is over: its kept windows are gone.
        assert not list((Path(api_settings.blob_url) / "windows").glob(f"*/{job_id}/*"))
