import os

import httpx
import pytest

from tests.compute import documents
from tests.support import ComputeServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def compute_url(tmp_path_factory):
    """The compute service with its default settings, as an operator would run it."""
    server = ComputeServer(tmp_path_factory.mktemp("compute") / "compute.log").start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def client(compute_url):
    with httpx.Client(base_url=compute_url, timeout=120.0) as c:
        yield c


@pytest.fixture(scope="session")
def docs(tmp_path_factory):
    """One generated document of every format, each carrying a known sentence."""
    return documents.generate_all(tmp_path_factory.mktemp("docs"))


def assert_error(resp: httpx.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text[:500]
    body = resp.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["retryable"], bool)
    return body["error"]
