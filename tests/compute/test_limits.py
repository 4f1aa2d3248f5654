"""Hard limits: bytes, pages, wall-clock and memory. A killed parse never takes the service down."""

import httpx
import pytest

from tests.support import ComputeServer, assert_error, documents


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A service with small limits: 1 MiB uploads, 5 pages, 3 s per parse."""
    server = ComputeServer(
        tmp_path_factory.mktemp("strict") / "compute.log",
        COMPUTE_MAX_UPLOAD_BYTES=str(1024 * 1024),
        COMPUTE_MAX_PAGES="5",
        COMPUTE_PARSE_TIMEOUT_S="3",
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


def test_parse_past_the_memory_cap_is_killed(tmp_path, docs):
    # The worker's resting size is about 400 MB; a 40,000-paragraph HTML page needs ~250 MB more.
    server = ComputeServer(
        tmp_path / "mem.log", COMPUTE_PARSE_MEMORY_MB="520", COMPUTE_PARSE_TIMEOUT_S="120"
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=180.0) as client:
            big = documents.html(tmp_path / "big.html", paragraphs=40_000)
            assert_error(client.post("/parse", files={"file": big.open("rb")}), 422, "memory_limit")
            assert client.post("/parse", files={"file": docs["csv"].open("rb")}).status_code == 200
    finally:
        server.stop()
