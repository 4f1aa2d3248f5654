"""The compute client: happy paths against the real compute service, faults injected with respx."""

import asyncio
import math
from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from contracts import REQUEST_ID_HEADER, ChunkRequest, ErrorCode, MetadataRequest
from orchestrator.compute_client.client import ComputeClient, parse_retry_after
from orchestrator.errors import ComputeRejected, ComputeUnavailable
from orchestrator.settings import Settings

SENTENCE = "The quarterly harvest of blue lentils exceeded every forecast in the valley."
MARKDOWN = f"# Lentil report\n\n## Harvest\n\n{SENTENCE}\n\n## Outlook\n\nPrices are expected to stay stable next year.\n"
A, B = "http://replica-a.test", "http://replica-b.test"
EMBED_OK = {"model": "m", "dim": 2, "embeddings": [[0.6, 0.8]], "truncated": [False]}


def envelope(code: str, message: str = "no", retryable: bool = False) -> dict:
    return {"error": {"code": code, "message": message, "retryable": retryable}}


# --- the real compute service ---


@pytest.fixture
async def real(compute_url: str, compute_token: str) -> AsyncIterator[ComputeClient]:
    settings = Settings(compute_urls=compute_url, compute_token=compute_token)
    client = ComputeClient.from_settings(settings)
    yield client
    await client.close()


async def test_parse_a_real_document(real: ComputeClient) -> None:
    result = await real.parse(MARKDOWN.encode(), "report.md", request_id="parse-test-1")
    assert result.format == "md"
    assert SENTENCE in result.text
    assert any("Harvest" in s.heading_path for s in result.sections)
    assert real.last_call is not None and real.last_call.attempts == 1
    assert real.last_call.request_id == "parse-test-1"


async def test_chunk_a_real_text(real: ComputeClient) -> None:
    response = await real.chunk(ChunkRequest(text=MARKDOWN, strategy="markdown"))
    assert response.chunks and any(SENTENCE in c.text for c in response.chunks)
    assert [c.index for c in response.chunks] == list(range(len(response.chunks)))


async def test_embed_real_texts_in_batches(real: ComputeClient) -> None:
    texts = [SENTENCE, "Prices are expected to stay stable.", "An unrelated sentence about trains."]
    response = await real.embed(texts)
    assert response.dim == 384 and len(response.embeddings) == 3
    assert math.isclose(sum(v * v for v in response.embeddings[0]), 1.0, rel_tol=1e-3)
    batches = [batch async for batch in real.embed_batches(texts, batch_texts=2)]
    assert [(start, len(part.embeddings)) for start, part in batches] == [(0, 2), (2, 1)]
    batched = [vector for _, part in batches for vector in part.embeddings]
    assert len(batched) == 3
    # The same text in another batch: the same vector up to the backend's precision (bf16 where it runs;
    # int8 quantizes activations per pass, and compute's own floor for it is 0.97).
    assert sum(x * y for x, y in zip(batched[2], response.embeddings[2], strict=True)) > 0.97
    query = await real.embed(["blue lentil harvest"], kind="query")
    assert query.dim == 384


async def test_metadata_and_readiness_of_the_real_service(real: ComputeClient) -> None:
    meta = await real.extract_metadata(MetadataRequest(text=MARKDOWN, mode="local"))
    assert meta.title == "Lentil report"
    assert await real.ready()


async def test_a_bad_document_is_rejected_with_computes_code(real: ComputeClient) -> None:
    with pytest.raises(ComputeRejected) as caught:
        await real.parse(b"%PDF-1.7\nthis is not really a pdf", "broken.pdf")
    assert caught.value.code == ErrorCode.corrupt_document
    assert caught.value.status == 422 and caught.value.attempts == 1 and not caught.value.retryable


async def test_a_missing_token_is_rejected_not_retried(compute_url: str) -> None:
    async with ComputeClient([compute_url], token=None, backoff_base_s=0.001, backoff_max_s=0.01) as client:
        with pytest.raises(ComputeRejected) as caught:
            await client.embed(["hello"])
    assert (caught.value.code, caught.value.status, caught.value.attempts) == (ErrorCode.unauthorized, 401, 1)


# --- faults, injected with respx ---


def fault_client(urls: list[str] | None = None, **options: object) -> ComputeClient:
    defaults = {"token": "secret", "max_attempts": 4, "backoff_base_s": 0.001, "backoff_max_s": 0.01}
    return ComputeClient(urls or [A], **{**defaults, **options})  # type: ignore[arg-type]


@respx.mock(assert_all_mocked=True)
async def test_503_twice_then_200_succeeds_on_the_third_attempt(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{A}/embed").mock(
        side_effect=[
            httpx.Response(503, json=envelope("overloaded")),
            httpx.Response(503),
            httpx.Response(200, json=EMBED_OK),
        ]
    )
    async with fault_client() as client:
        response = await client.embed(["x"])
        assert response.embeddings == [[0.6, 0.8]]
        assert client.last_call is not None
        assert client.last_call.attempts == 3 and route.call_count == 3
        assert client.last_call.outcomes == ["503", "503", "200"]
        assert len(client.last_call.waits_s) == 2


@respx.mock(assert_all_mocked=True)
async def test_retry_after_is_honoured_and_capped(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{A}/embed").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0.2"}), httpx.Response(200, json=EMBED_OK)]
    )
    async with fault_client(backoff_max_s=5.0) as client:
        await client.embed(["x"])
        assert client.last_call is not None and client.last_call.waits_s == [0.2]
    respx_mock.post(f"{A}/chunk").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "3600"}),
            httpx.Response(
                200, json={"strategy": "markdown", "max_tokens": 254, "tokenizer": "t", "chunks": []}
            ),
        ]
    )
    async with fault_client(backoff_max_s=0.05) as client:
        await client.chunk(ChunkRequest(text="x"))
        assert client.last_call is not None and client.last_call.waits_s == [0.05]  # never an hour


def test_retry_after_values() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: now


@respx.mock(assert_all_mocked=True)
async def test_a_422_envelope_is_a_permanent_rejection_without_retry(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{A}/parse").mock(
        return_value=httpx.Response(422, json=envelope("encrypted_document", "the PDF is encrypted"))
    )
    async with fault_client() as client:
        with pytest.raises(ComputeRejected) as caught:
            await client.parse(b"%PDF-1.7", "secret.pdf")
    assert route.call_count == 1
    rejected = caught.value
    assert (rejected.code, rejected.status, rejected.attempts) == (ErrorCode.encrypted_document, 422, 1)
    assert not rejected.retryable and "encrypted" in rejected.message


@respx.mock(assert_all_mocked=True)
async def test_other_errors_are_not_retried(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{A}/embed").mock(return_value=httpx.Response(500, json=envelope("internal", "bug")))
    respx_mock.post(f"{A}/chunk").mock(return_value=httpx.Response(404, text="<html>not here</html>"))
    async with fault_client() as client:
        with pytest.raises(ComputeRejected) as caught:
            await client.embed(["x"])
        assert (caught.value.code, caught.value.attempts) == (ErrorCode.internal, 1)
        with pytest.raises(ComputeRejected) as caught:
            await client.chunk(ChunkRequest(text="x"))
        assert (caught.value.code, caught.value.status) == (
            ErrorCode.not_found,
            404,
        )  # no envelope: by status


@respx.mock(assert_all_mocked=True)
async def test_a_connect_error_on_one_replica_is_served_by_another(respx_mock: respx.MockRouter) -> None:
    down = respx_mock.post(f"{A}/embed").mock(side_effect=httpx.ConnectError("connection refused"))
    up = respx_mock.post(f"{B}/embed").mock(return_value=httpx.Response(200, json=EMBED_OK))
    async with fault_client([A, B]) as client:
        await client.embed(["x"])
        assert client.last_call is not None
        assert client.last_call.replicas == [A, B] and client.last_call.outcomes == ["ConnectError", "200"]
        assert (down.call_count, up.call_count) == (1, 1)


@respx.mock(assert_all_mocked=True)
async def test_timeouts_are_retried_on_the_next_replica(respx_mock: respx.MockRouter) -> None:
    respx_mock.post(f"{A}/chunk").mock(side_effect=httpx.ReadTimeout("slow"))
    respx_mock.post(f"{B}/chunk").mock(
        return_value=httpx.Response(
            200, json={"strategy": "markdown", "max_tokens": 254, "tokenizer": "t", "chunks": []}
        )
    )
    async with fault_client([A, B]) as client:
        await client.chunk(ChunkRequest(text="x"))
        assert client.last_call is not None and client.last_call.outcomes == ["ReadTimeout", "200"]


@respx.mock(assert_all_mocked=True)
async def test_calls_go_round_robin_over_replicas(respx_mock: respx.MockRouter) -> None:
    a = respx_mock.post(f"{A}/embed").mock(return_value=httpx.Response(200, json=EMBED_OK))
    b = respx_mock.post(f"{B}/embed").mock(return_value=httpx.Response(200, json=EMBED_OK))
    async with fault_client([A, B]) as client:
        for _ in range(4):
            await client.embed(["x"])
    assert (a.call_count, b.call_count) == (2, 2)


@respx.mock(assert_all_mocked=True)
async def test_an_unknown_code_keeps_computes_message(respx_mock: respx.MockRouter) -> None:
    # A newer compute mid-deploy: its code is not ours, its message still is the user's best clue.
    respx_mock.post(f"{A}/embed").mock(
        return_value=httpx.Response(422, json=envelope("brand_new_code", "texts must be short"))
    )
    async with fault_client() as client:
        with pytest.raises(ComputeRejected) as caught:
            await client.embed(["x"])
    assert caught.value.code == ErrorCode.invalid_request
    assert "texts must be short" in str(caught.value) and "brand_new_code" not in str(caught.value)


@respx.mock(assert_all_mocked=True)
async def test_a_lost_parse_worker_is_left_to_the_queue_not_retried_at_once(
    respx_mock: respx.MockRouter,
) -> None:
    # An OOM-killed worker would be killed again by an immediate retry, on every replica in turn.
    a = respx_mock.post(f"{A}/parse").mock(
        return_value=httpx.Response(503, json=envelope("worker_lost", "killed", retryable=True))
    )
    async with fault_client([A, B], max_attempts=5) as client:  # B is not mocked: a call there fails
        with pytest.raises(ComputeUnavailable) as caught:
            await client.parse(b"%PDF-1.4", "a.pdf")
    assert a.call_count == 1
    assert caught.value.retryable and caught.value.attempts == 1
    assert "worker_lost" in str(caught.value)


@respx.mock(assert_all_mocked=True)
async def test_when_every_attempt_fails_compute_is_unavailable(respx_mock: respx.MockRouter) -> None:
    a = respx_mock.post(f"{A}/embed").mock(return_value=httpx.Response(502))
    b = respx_mock.post(f"{B}/embed").mock(side_effect=httpx.ConnectError("refused"))
    async with fault_client([A, B], max_attempts=5) as client:
        with pytest.raises(ComputeUnavailable) as caught:
            await client.embed(["x"])
        assert client.last_call is not None and client.last_call.replicas == [A, B, A, B, A]
    assert caught.value.attempts == 5 and caught.value.retryable
    assert (a.call_count, b.call_count) == (3, 2)


@respx.mock(assert_all_mocked=True)
async def test_request_id_and_token_travel_in_headers(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{A}/embed").mock(return_value=httpx.Response(200, json=EMBED_OK))
    async with fault_client() as client:
        await client.embed(["x"], request_id="req-42")
        sent = route.calls.last.request
        assert sent.headers[REQUEST_ID_HEADER] == "req-42"
        assert sent.headers["Authorization"] == "Bearer secret"
        await client.embed(["x"])  # none given: one is made up, and reported
        generated = route.calls.last.request.headers[REQUEST_ID_HEADER]
        assert generated and client.last_call is not None and client.last_call.request_id == generated


@respx.mock(assert_all_mocked=True)
async def test_the_same_request_id_on_every_attempt(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(f"{A}/embed").mock(
        side_effect=[httpx.Response(504), httpx.Response(200, json=EMBED_OK)]
    )
    async with fault_client() as client:
        await client.embed(["x"], request_id="same")
    assert [c.request.headers[REQUEST_ID_HEADER] for c in route.calls] == ["same", "same"]


@respx.mock(assert_all_mocked=True)
async def test_ready_when_any_replica_is_ready(respx_mock: respx.MockRouter) -> None:
    respx_mock.get(f"{A}/readyz").mock(side_effect=httpx.ConnectError("down"))
    respx_mock.get(f"{B}/readyz").mock(return_value=httpx.Response(200, json={"status": "ok"}))
    async with fault_client([A, B]) as client:
        assert await client.ready()
        assert await client.replicas_ready() == {A: False, B: True}
    respx_mock.get(f"{B}/readyz").mock(return_value=httpx.Response(503))
    async with fault_client([A, B]) as client:
        assert not await client.ready()


def test_compute_urls_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCH_COMPUTE_URLS", f" {A}/ ,{B}")
    monkeypatch.setenv("ORCH_COMPUTE_TOKEN", "tok")
    settings = Settings()
    assert settings.compute_urls == [A, B]
    client = ComputeClient.from_settings(settings)
    assert client.urls == [A, B] and client.max_attempts == settings.compute_max_attempts
    with pytest.raises(ValueError):
        Settings(compute_urls=" , ")


@respx.mock(assert_all_mocked=True, assert_all_called=False)  # a cancelled call is never recorded
async def test_cancelling_a_call_cancels_it_without_a_retry(respx_mock: respx.MockRouter) -> None:
    started = asyncio.Event()
    sent: list[httpx.Request] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        started.set()
        await asyncio.sleep(60)
        return httpx.Response(200, json=EMBED_OK)

    respx_mock.post(f"{A}/embed").mock(side_effect=slow)
    async with fault_client() as client:
        task = asyncio.create_task(client.embed(["x"]))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)  # a retry, if there were one, would have started by now
    assert len(sent) == 1
