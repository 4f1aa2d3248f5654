"""Hard limits: bytes, pages, wall-clock and memory. A killed parse never takes the service down."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support import ComputeServer, assert_error, documents

JSON_LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def parse_tmp(tmp_path_factory) -> Path:
    """Where the strict service's parse pool keeps its temp directories."""
    return tmp_path_factory.mktemp("parse-tmp")


@pytest.fixture(scope="module")
def strict(tmp_path_factory, parse_tmp):
    """A service with small limits: 1 MiB uploads, 5 pages, 3 s per parse."""
    server = ComputeServer(
        tmp_path_factory.mktemp("strict") / "compute.log",
        COMPUTE_MAX_UPLOAD_BYTES=str(1024 * 1024),
        COMPUTE_MAX_PAGES="5",
        COMPUTE_PARSE_TIMEOUT_S="3",
        COMPUTE_PARSE_TMP_DIR=str(parse_tmp),
        COMPUTE_MAX_JSON_BYTES=str(JSON_LIMIT),
    ).start()
    with httpx.Client(base_url=server.url, timeout=120.0) as client:
        yield client
    server.stop()


def test_upload_over_the_byte_limit(strict):
    blob = b"a" * (1024 * 1024 + 10)
    assert_error(strict.post("/parse", files={"file": ("big.txt", blob)}), 413, "too_large")
    assert_error(
        strict.post("/parse", content=blob, headers={"content-type": "text/plain"}), 413, "too_large"
    )


def _chunked(data: bytes, piece: int = 16 * 1024):
    """A body sent with Transfer-Encoding: chunked, so no Content-Length tells the size up front."""
    for at in range(0, len(data), piece):
        yield data[at : at + piece]


@pytest.mark.parametrize("route", ["/embed", "/v1/embeddings", "/chunk", "/extract-metadata"])
def test_json_bodies_are_capped_with_and_without_content_length(strict, route):
    big = json.dumps({"texts": ["x" * JSON_LIMIT], "input": "x", "text": "x"}).encode()
    headers = {"content-type": "application/json"}
    assert_error(strict.post(route, content=big, headers=headers), 413, "too_large")
    assert_error(strict.post(route, content=_chunked(big), headers=headers), 413, "too_large")


def test_a_chunked_body_under_the_cap_is_served(strict):
    small = json.dumps({"texts": ["a short text"]}).encode()
    ok = strict.post("/embed", content=_chunked(small, 4), headers={"content-type": "application/json"})
    assert ok.status_code == 200 and len(ok.json()["embeddings"]) == 1


def test_chunked_uploads_are_capped_while_streaming(strict):
    blob = b"a" * (3 * 1024 * 1024)
    raw = strict.post("/parse", content=_chunked(blob), headers={"content-type": "text/plain"})
    # Cut off by the body cap as it streamed in, not by the route after reading it all.
    assert "request body is over the limit" in assert_error(raw, 413, "too_large")["message"]
    boundary = "limit-test-boundary"
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + blob
        + f"\r\n--{boundary}--\r\n".encode()
    )
    multipart = strict.post(
        "/parse",
        content=_chunked(form),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "request body is over the limit" in assert_error(multipart, 413, "too_large")["message"]
    # The service is fine afterwards.
    assert strict.post("/parse", files={"file": ("ok.txt", b"a small text file")}).status_code == 200


def test_too_many_pages(strict, tmp_path):
    path = documents.pdf(tmp_path / "long.pdf", pages=6)
    err = assert_error(strict.post("/parse", files={"file": path.open("rb")}), 413, "too_large")
    assert "6 pages" in err["message"]


def test_parse_past_the_timeout_is_killed_and_the_service_recovers(strict, tmp_path, docs):
    slow = documents.html(tmp_path / "slow.html", paragraphs=20_000)  # about 12 s of parsing here
    err = assert_error(strict.post("/parse", files={"file": slow.open("rb")}), 504, "timeout")
    assert err["retryable"] is True
    # The worker was killed and replaced: the next document parses normally.
    ok = strict.post("/parse", files={"file": docs["md"].open("rb")})
    assert ok.status_code == 200
    metrics = strict.get("/metrics").text
    assert 'compute_parse_errors_total{code="timeout"} 1.0' in metrics


def _worker_dir(parse_tmp: Path, other_than: Path | None = None, wait_s: float = 10.0) -> Path:
    """The one parse worker's temp directory (its TMPDIR), waiting for a replacement if asked."""
    deadline = time.monotonic() + wait_s
    while True:
        found = [p for p in parse_tmp.glob("compute-parse-*/worker-0-*") if p != other_than]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.1)


def test_a_killed_workers_temp_dir_is_removed(strict, parse_tmp, tmp_path):
    before = _worker_dir(parse_tmp)
    slow = documents.html(tmp_path / "slow.html", paragraphs=20_000)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(strict.post, "/parse", files={"file": slow.read_bytes()})
        time.sleep(1.0)
        # What a backend writes mid-parse and never gets to remove: the worker is killed first.
        (before / "docling-spill").mkdir()
        (before / "docling-spill" / "page.bin").write_bytes(b"\0" * 4096)
        assert_error(answer.result(), 504, "timeout")
    assert not before.exists()
    replacement = _worker_dir(parse_tmp, other_than=before)
    assert replacement.parent == before.parent and not any(replacement.iterdir())


def test_parse_past_the_memory_cap_is_killed(tmp_path, docs):
    # The worker's resting size is about 400 MB; a 40,000-paragraph HTML page needs ~250 MB more.
    parse_tmp = tmp_path / "parse-tmp"
    server = ComputeServer(
        tmp_path / "mem.log",
        COMPUTE_PARSE_MEMORY_MB="520",
        COMPUTE_PARSE_TIMEOUT_S="120",
        COMPUTE_PARSE_TMP_DIR=str(parse_tmp),
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=180.0) as client:
            killed = _worker_dir(parse_tmp)
            big = documents.html(tmp_path / "big.html", paragraphs=40_000)
            err = assert_error(client.post("/parse", files={"file": big.open("rb")}), 422, "memory_limit")
            assert "parsed whole" in err["message"]  # an HTML page has no pages to parse in windows
            assert not killed.exists()
            assert client.post("/parse", files={"file": docs["csv"].open("rb")}).status_code == 200
    finally:
        server.stop()
    # A clean shutdown removes the pool's own directory too.
    assert not list(parse_tmp.iterdir())
