import os

import httpx
import pytest

from tests.support import ComputeServer, documents

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
