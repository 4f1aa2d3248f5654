"""Every body but the upload's is capped while it streams (api/body_limit.py): FastAPI would otherwise read
a whole JSON body before the API key check. No server is needed: the refusal comes before any route."""

from collections.abc import AsyncIterator

import httpx
import pytest

from orchestrator.api import create_app
from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.job_queue import BLOB_DIR

LIMIT = 4096
KEY = "k" * 40


@pytest.fixture
def client() -> httpx.AsyncClient:
    settings = Settings(api_keys=KEY, api_workers=0, max_json_bytes=LIMIT, blob_url=BLOB_DIR)
    transport = httpx.ASGITransport(app=create_app(settings))
    return httpx.AsyncClient(transport=transport, base_url="http://api")


async def _chunks(total_bytes: int) -> AsyncIterator[bytes]:
    yield b'{"query": "'
    for _ in range(total_bytes // 1024):
        yield b"a" * 1024
    yield b'"}'


@pytest.mark.parametrize("path", ["/api/v1/search", "/api/v1/collections", "/api/v1/documents/abc"])
async def test_declared_length_past_the_cap_is_413_before_auth(client: httpx.AsyncClient, path: str) -> None:
    # No API key: the answer is still 413, from the length alone, before a byte of the body is read.
    method = "PATCH" if "documents" in path else "POST"
    response = await client.request(
        method, path, content=b"{" + b" " * (LIMIT * 4) + b"}", headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "too_large")


async def test_chunked_body_is_cut_off_at_the_cap(client: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/json", "authorization": f"Bearer {KEY}"}
    response = await client.post("/api/v1/search", content=_chunks(LIMIT * 8), headers=headers)
    assert "content-length" not in response.request.headers  # streamed: nothing declared
    assert_error(response, 413, "too_large")


async def test_a_form_body_on_a_json_route_is_capped_too(client: httpx.AsyncClient) -> None:
    headers = {"content-type": "multipart/form-data; boundary=xyz"}
    response = await client.post("/api/v1/collections", content=_chunks(LIMIT * 8), headers=headers)
    assert_error(response, 413, "too_large")


async def test_the_upload_route_keeps_its_own_larger_limit(client: httpx.AsyncClient) -> None:
    # Past max_json_bytes but far under max_upload_bytes: not refused by the body cap (401: no key).
    body = b"--xyz\r\n" + b"x" * (LIMIT * 4) + b"\r\n--xyz--\r\n"
    response = await client.post(
        "/api/v1/collections/docs/documents",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert_error(response, 401, "unauthorized")
