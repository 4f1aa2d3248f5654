"""A small plain-text file is parsed in the API process, without a parse worker; a larger one, and every
other format, still goes to a worker. Both give the same result for the same text."""

import os
import signal
import time

import httpx
import pytest

from tests.support import ComputeServer, parse_worker_pids

INLINE_MAX = 2000
TEXT = "A first paragraph\nover two lines.\r\n\r\n  \t\nA second one: Größe, naïve, 東京.\n\n\n"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    server = ComputeServer(
        tmp_path_factory.mktemp("inline") / "compute.log", COMPUTE_INLINE_TEXT_MAX_BYTES=str(INLINE_MAX)
    ).start()
    with httpx.Client(base_url=server.url, timeout=60.0) as client:
        yield server, client
    server.stop()


def parse(client: httpx.Client, data: bytes, name: str = "notes.txt") -> httpx.Response:
    return client.post("/parse", files={"file": (name, data)})


def test_a_small_text_file_does_not_wait_for_a_parse_worker(service):
    server, client = service
    workers = parse_worker_pids(server.proc.pid)
    assert workers
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)  # a worker stuck on another document
    try:
        started = time.monotonic()
        response = parse(client, TEXT.encode())
        assert response.status_code == 200, response.text
        assert time.monotonic() - started < 30  # a worker's reply would never come while it is stopped
        body = response.json()
        assert body["format"] == "text" and body["pipeline"] == "text"
        assert body["text"] == "A first paragraph\nover two lines.\n\nA second one: Größe, naïve, 東京."
        assert body["sections"] == [{"heading_path": [], "page": None, "text": body["text"]}]
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)


def test_a_larger_text_file_goes_to_a_worker_with_the_same_result(service):
    _, client = service
    small = parse(client, TEXT.encode()).json()
    padded = TEXT + "\n" * (INLINE_MAX + 10)  # the same text, over the inline size
    large = parse(client, padded.encode()).json()
    assert large["text"] == small["text"] and large["sections"] == small["sections"]
    assert large["markdown"] == small["markdown"]
    # A UTF-16 file (with its byte-order mark) reads the same either way.
    assert parse(client, TEXT.encode("utf-16")).json()["text"] == small["text"]


def test_other_formats_and_empty_files_still_go_to_a_worker(service):
    _, client = service
    empty = parse(client, b"")
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "empty_document"
    md = parse(client, b"# Title\n\nBody text.\n", name="notes.md").json()
    assert md["format"] == "md" and md["pipeline"] == "docling"
