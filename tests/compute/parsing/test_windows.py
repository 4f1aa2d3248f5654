"""PDFs parsed a window of pages per request: each answer covers its pages, hands a continuation to the
next request, and the windows read as one parse of the whole document. A parse worker killed from
outside is a retryable `worker_lost`, not a verdict on the document."""

import json
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support import ComputeServer, assert_error, documents, parse_worker_pids

PAGES = 60
WINDOW = 7


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return documents.book_pdf(tmp_path_factory.mktemp("book") / "manual.pdf", PAGES).read_bytes()


def parse(client: httpx.Client, data: bytes, **form: str) -> httpx.Response:
    params = {k: v for k, v in form.items() if k in ("first_page", "page_count", "include_document")}
    fields = {k: v for k, v in form.items() if k not in params}
    return client.post("/parse", params=params, files={"file": ("manual.pdf", data)}, data=fields)


def windows(client: httpx.Client, data: bytes, size: int, **extra: str) -> list[dict]:
    out: list[dict] = []
    while not out or out[-1]["window"]["last_page"] < out[-1]["pages"]:
        form = {"first_page": str(out[-1]["window"]["last_page"] + 1 if out else 1), "page_count": str(size)}
        form.update(extra)
        if out:
            form["continuation"] = json.dumps(out[-1]["continuation"])
        response = parse(client, data, **form)
        assert response.status_code == 200, response.text
        out.append(response.json())
    return out


def test_windows_read_as_one_parse_of_the_whole_document(client, book):
    whole = parse(client, book).json()
    assert whole["window"] is None and whole["pages"] == PAGES
    parts = windows(client, book, WINDOW)
    assert [p["window"]["first_page"] for p in parts] == list(range(1, PAGES + 1, WINDOW))
    assert all(p["pages"] == PAGES for p in parts)
    assert parts[-1]["window"]["last_page"] == PAGES
    # Each window holds its own pages only.
    for part in parts:
        first, last = part["window"]["first_page"], part["window"]["last_page"]
        assert {s["page"] for s in part["sections"]} <= set(range(first, last + 1))
        assert f"of page {first}:" in part["text"] and f"of page {last + 1}:" not in part["text"]
    assert "\n\n".join(p["markdown"] for p in parts) == whole["markdown"]
    assert "\n\n".join(p["text"] for p in parts) == whole["text"]
    # Headings open at a window's start carry on: the sections' heading paths are the whole parse's.
    sections: list[dict] = []
    for part in parts:
        for i, section in enumerate(part["sections"]):
            if i == 0 and part["continues_section"]:
                sections[-1]["text"] += "\n\n" + section["text"]
            else:
                sections.append(section)
    assert sections == whole["sections"]
    # The book's paragraphs run on over page breaks: some window starts inside a section.
    assert any(p["continues_section"] for p in parts[1:])
    assert any(len(s["heading_path"]) == 2 for s in whole["sections"])


def _paths_by_page(chunks: list[dict]) -> dict[int, list[str]]:
    """The heading path of the chunk holding each page's first line ("Step 0 of page N")."""
    out: dict[int, list[str]] = {}
    for chunk in chunks:
        for match in re.finditer(r"Step 0 of page (\d+):", chunk["text"]):
            out[int(match.group(1))] = chunk["heading_path"]
    return out


# 7: windows start inside sections and on section pages; 10: every window starts on a chapter page.
@pytest.mark.parametrize("size", [WINDOW, 10])
def test_docling_chunks_of_a_window_keep_the_headings_open_at_its_start(client, book, size):
    def hybrid_chunks(result: dict) -> list[dict]:
        response = client.post("/chunk", json={"document": result, "strategy": "docling_hybrid"})
        assert response.status_code == 200, response.text
        return response.json()["chunks"]

    whole = parse(client, book, include_document="true").json()
    parts = windows(client, book, size, include_document="true")
    expected = _paths_by_page(hybrid_chunks(whole))
    got: dict[int, list[str]] = {}
    for part in parts:
        got.update(_paths_by_page(hybrid_chunks(part)))
    assert got == expected
    # Window starts that fall inside a section: their first chunk is filed under its chapter and section.
    starts = [p["window"]["first_page"] for p in parts[1:] if p["continues_section"]]
    assert all(len(got[page]) == 2 for page in starts)
    assert starts or size == 10


def test_a_first_window_without_text_does_not_fix_the_font_style(client, tmp_path):
    # Its body size would otherwise be a guess, and the windows after it would read headings by it.
    data = documents.book_pdf(tmp_path / "scanned-cover.pdf", 12, blank_pages=3).read_bytes()
    whole = parse(client, data).json()
    parts = windows(client, data, 3)
    assert parts[0]["text"] == "" and parts[0]["continuation"]["body"] is None
    assert "\n\n".join(p["text"] for p in parts if p["text"]) == whole["text"]
    assert "\n\n".join(p["markdown"] for p in parts if p["markdown"]) == whole["markdown"]
    assert any(s["heading_path"] for s in whole["sections"])


def test_a_window_past_the_end_and_a_forged_continuation_are_refused(client, book):
    err = assert_error(parse(client, book, first_page=str(PAGES + 1), page_count="5"), 422, "invalid_request")
    assert f"{PAGES} pages" in err["message"]
    for bad in (
        "not json",
        json.dumps({"v": 1, "body": -1, "levels": {}, "headings": [], "ocr_pages_left": 0}),
        json.dumps({"v": 1, "body": 11, "levels": {"14.0": -3}, "headings": [], "ocr_pages_left": 0}),
        json.dumps({"v": 1, "body": 11, "levels": {}, "headings": [[99, "x"]], "ocr_pages_left": 0}),
    ):
        assert_error(
            parse(client, book, first_page="8", page_count="7", continuation=bad), 422, "invalid_request"
        )
    # A window over the service's limit is cut to it: the answer says which pages it covers.
    cut = parse(client, book, first_page="1", page_count="100000")
    assert cut.status_code == 200 and cut.json()["window"] == {"first_page": 1, "last_page": PAGES}


def test_other_formats_come_back_whole_when_a_window_is_asked_for(client, docs):
    response = client.post(
        "/parse", params={"first_page": "3", "page_count": "2"}, files={"file": docs["docx"].open("rb")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] is None and body["continuation"] is None
    assert documents.SENTENCES["docx"] in body["text"]


@pytest.fixture(scope="module")
def small_windows(tmp_path_factory):
    """A service whose requests parse at most 3 pages, and whose worker may be killed by the tests."""
    server = ComputeServer(
        tmp_path_factory.mktemp("windows") / "compute.log", COMPUTE_MAX_WINDOW_PAGES="3"
    ).start()
    with httpx.Client(base_url=server.url, timeout=120.0) as client:
        yield server, client
    server.stop()


def test_a_pdf_longer_than_one_window_must_be_asked_for_in_windows(small_windows, tmp_path):
    _, client = small_windows
    data = documents.pdf(tmp_path / "four.pdf", pages=4).read_bytes()
    err = assert_error(parse(client, data), 413, "too_large")
    assert "4 pages" in err["message"] and "first_page" in err["message"]
    cut = parse(client, data, first_page="1", page_count="4")
    assert cut.status_code == 200 and cut.json()["window"] == {"first_page": 1, "last_page": 3}
    ok = parse(client, data, first_page="2", page_count="3")
    assert ok.status_code == 200, ok.text
    assert ok.json()["window"] == {"first_page": 2, "last_page": 4}


def _wait_for_worker(server: ComputeServer, other_than: int | None = None, wait_s: float = 60.0) -> int:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        pids = [p for p in parse_worker_pids(server.proc.pid) if p != other_than]
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise AssertionError("no parse worker came up")


def test_a_worker_killed_from_outside_is_retryable_and_replaced(small_windows, tmp_path, docs):
    server, client = small_windows
    worker = _wait_for_worker(server)
    slow = documents.html(tmp_path / "slow.html", paragraphs=20_000).read_bytes()  # seconds of parsing
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(client.post, "/parse", files={"file": ("slow.html", slow)})
        time.sleep(1.5)
        os.kill(worker, signal.SIGKILL)  # as the kernel's OOM killer does
        err = assert_error(answer.result(), 503, "worker_lost")
    assert err["retryable"] is True
    assert answer.result().headers.get("retry-after")
    _wait_for_worker(server, other_than=worker)
    assert client.post("/parse", files={"file": docs["md"].open("rb")}).status_code == 200


def test_a_parse_asked_to_chunk_carries_the_chunks_only_when_it_covers_the_whole_document(client, book):
    """One round trip fewer for a document that fits one answer; a window of several leaves it to /chunk."""
    asked = {"chunk_strategy": "markdown", "chunk_max_tokens": "64"}
    response = client.post("/parse", params=asked, files={"file": ("manual.pdf", book)})
    assert response.status_code == 200, response.text
    whole = response.json()
    assert whole["window"] is None and whole["chunked"]["strategy"] == "markdown"
    by_chunk = client.post(
        "/chunk",
        json={"document": {**whole, "chunked": None}, "strategy": "markdown", "max_tokens": 64},
    ).json()
    assert whole["chunked"] == by_chunk and len(by_chunk["chunks"]) > PAGES
    # One window holding every page is the whole document; the first of several windows is not.
    covering = client.post(
        "/parse", params={**asked, "first_page": 1, "page_count": PAGES}, files={"file": ("m.pdf", book)}
    ).json()
    assert covering["window"] == {"first_page": 1, "last_page": PAGES} and covering["chunked"] == by_chunk
    first = client.post(
        "/parse", params={**asked, "first_page": 1, "page_count": WINDOW}, files={"file": ("m.pdf", book)}
    ).json()
    assert first["window"]["last_page"] == WINDOW and first["chunked"] is None
    refused = client.post("/parse", params={"chunk_strategy": "paragraphs"}, files={"file": ("m.pdf", book)})
    assert refused.status_code == 422
