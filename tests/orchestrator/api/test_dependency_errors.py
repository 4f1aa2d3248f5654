"""A dependency's failure reaches clients as a code and a fixed message: no host name, URL or raw exception
text of Chroma or compute in an error body, a job's error or a document's; that detail goes to the log."""

import logging

import httpx
import pytest
from chromadb.errors import InvalidArgumentError

from contracts import ChunkRequest, ErrorCode, MetadataRequest
from orchestrator.compute_client import ComputeClient
from orchestrator.errors import ComputeRejected, ComputeUnavailable, VectorRejected
from orchestrator.settings import Settings
from orchestrator.vectors.chroma_errors import UNREACHABLE, translated
from tests.support import assert_error
from tests.support.api import API, create_collection, running_app, upload, wait_document, wait_job

CHROMA_HIDDEN = "chroma-hidden-host.invalid"
COMPUTE_HIDDEN = "compute-hidden-host.invalid"
PROXY_HIDDEN = "proxy-hidden-host.corp"
QUERY = {"query": "lighthouse", "collections": ["kept"]}


def assert_nothing_internal(text: str) -> None:
    for leak in ("hidden-host", "http://", "Error:", "Traceback"):
        assert leak not in text, text


async def test_chroma_unreachable_is_503_with_a_fixed_message(
    api_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(api_settings.model_copy(update={"api_workers": 0})) as (_, client):
        await create_collection(client, "kept")
    settings = api_settings.model_copy(
        update={"chroma_url": f"http://{CHROMA_HIDDEN}:8000", "api_workers": 0}
    )
    caplog.set_level(logging.WARNING)
    async with running_app(settings) as (_, client):
        rid = {"X-Request-ID": "chroma-down-1"}
        answers = [
            await client.post(f"{API}/collections", json={"name": "fresh"}, headers=rid),
            await client.post(f"{API}/search", json=QUERY, headers=rid),
        ]
    for response in answers:
        error = assert_error(response, 503, "vector_store_unavailable")
        assert error["retryable"] and response.headers["Retry-After"]
        assert error["message"] == UNREACHABLE
        assert_nothing_internal(response.text)
    logged = [r.getMessage() for r in caplog.records if "request_id=chroma-down-1" in r.getMessage()]
    assert any(CHROMA_HIDDEN in line for line in logged), logged


async def test_compute_unreachable_is_503_and_a_job_error_without_its_address(api_settings: Settings) -> None:
    async with running_app(api_settings.model_copy(update={"api_workers": 0})) as (_, client):
        await create_collection(client, "kept")
    settings = api_settings.model_copy(
        update={"compute_urls": [f"http://{COMPUTE_HIDDEN}:9"], "compute_max_attempts": 2, "api_workers": 1}
    )
    async with running_app(settings) as (_, client):
        answers = [
            await client.post(f"{API}/collections", json={"name": "fresh"}),
            await client.post(f"{API}/search", json=QUERY),
        ]
        accepted = await upload(client, "kept", "note.md", b"# A note\n\nThe lighthouse keeper.\n")
        assert accepted.status_code == 202, accepted.text
        job = await wait_job(client, accepted.json()["job_id"])
        document = await wait_document(client, accepted.json()["document_id"])
    for response in answers:
        error = assert_error(response, 503, "compute_unavailable")
        assert error["message"].startswith("compute /embed failed after 2 attempts")
        assert_nothing_internal(response.text)
    assert job["error"]["code"] == document["error"]["code"] == "compute_unavailable", (job, document)
    assert_nothing_internal(str(job["error"]) + str(document["error"]))


async def test_compute_answers_without_its_envelope_are_reported_by_status_only() -> None:
    """A proxy's page (which names hosts), an unreadable body, a connection failure: the exceptions the
    API turns into bodies and job errors carry a status, compute's code or an exception type only."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/chunk":
            return httpx.Response(400, text=f"<html>{PROXY_HIDDEN} refused http://{COMPUTE_HIDDEN}/x</html>")
        if request.url.path == "/embed":
            return httpx.Response(200, json={"unexpected": f"http://{COMPUTE_HIDDEN}"})
        raise httpx.ConnectError(f"cannot reach http://{COMPUTE_HIDDEN}:9", request=request)

    async with ComputeClient(
        [f"http://{COMPUTE_HIDDEN}:9"],
        transport=httpx.MockTransport(handler),
        max_attempts=2,
        backoff_base_s=0,
    ) as client:
        with pytest.raises(ComputeRejected) as rejected:
            await client.chunk(ChunkRequest(text="a text"))
        assert rejected.value.code == ErrorCode.invalid_request and "400" in rejected.value.message
        with pytest.raises(ComputeRejected) as unreadable:
            await client.embed(["a"])
        with pytest.raises(ComputeUnavailable) as unavailable:
            await client.extract_metadata(MetadataRequest(text="a text"))
    assert unavailable.value.message.endswith("last: ConnectError")
    for exc in (rejected.value, unreadable.value, unavailable.value):
        assert_nothing_internal(exc.message)


@pytest.mark.parametrize("raised", [InvalidArgumentError, ValueError])
def test_a_request_chroma_refuses_has_a_fixed_message(raised: type[Exception]) -> None:
    with pytest.raises(VectorRejected) as refused, translated("c-1"):
        raise raised(f"bad where clause, see http://{CHROMA_HIDDEN}:8000/api")
    assert refused.value.code == ErrorCode.invalid_request
    assert_nothing_internal(refused.value.message)
