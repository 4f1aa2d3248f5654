"""Every 4xx answer is the error envelope with a stable code; API keys; health; nothing is created in
Chroma by a read or a search."""

import httpx
import pytest

from orchestrator.settings import Settings
from orchestrator.vectors import VectorStore
from tests.support import assert_error
from tests.support.api import API, create_collection, running_app, upload

# API keys as the API accepts them (orchestrator.api.security: 32 characters at least, no placeholder).
KEY_ONE, KEY_TWO = "1" * 32 + "-key-one", "2" * 32 + "-key-two"


@pytest.mark.parametrize("name", ["A", "x", "Upper", "-lead", "has space", "dot.name", "ü-nicode", "a" * 64])
async def test_bad_collection_names_are_422(api: httpx.AsyncClient, name: str) -> None:
    assert_error(await api.post(f"{API}/collections", json={"name": name}), 422, "invalid_request")


async def test_4xx_paths_answer_with_the_envelope(api: httpx.AsyncClient) -> None:
    await create_collection(api, "errs")
    assert_error(await api.post(f"{API}/collections", json={"name": "errs"}), 409, "conflict")
    assert_error(await api.post(f"{API}/collections", json={"nom": "x"}), 422, "invalid_request")
    assert_error(
        await api.post(
            f"{API}/collections", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
        "invalid_request",
    )
    assert_error(await api.get(f"{API}/collections/nope"), 404, "not_found")
    assert_error(await api.patch(f"{API}/collections/nope", json={"metadata": {}}), 404, "not_found")
    assert_error(await api.delete(f"{API}/collections/nope"), 404, "not_found")
    assert_error(await upload(api, "nope", "a.md", b"# a\n\nb\n"), 404, "not_found")
    assert_error(await upload(api, "errs", "a.md", b""), 422, "empty_document")
    assert_error(await upload(api, "errs", "a.md", b"# a\n", metadata="[1, 2]"), 422, "invalid_request")
    assert_error(await upload(api, "errs", "a.md", b"# a\n", metadata="{bad"), 422, "invalid_request")
    assert_error(await upload(api, "errs", "a.md", b"# a\n", on_duplicate="maybe"), 422, "invalid_request")
    assert_error(
        await upload(api, "errs", "a.md", b"# a\n", chunking='{"strategy": "nope"}'), 422, "invalid_request"
    )
    no_file = await api.post(f"{API}/collections/errs/documents", files={"other": ("a", b"x")})
    assert_error(no_file, 422, "invalid_request")
    not_multipart = await api.post(f"{API}/collections/errs/documents", json={"file": "x"})
    assert_error(not_multipart, 415, "unsupported_media_type")
    assert_error(await api.get(f"{API}/documents/nope"), 404, "not_found")
    assert_error(await api.get(f"{API}/documents/nope/chunks"), 404, "not_found")
    assert_error(await api.patch(f"{API}/documents/nope", json={"metadata": {}}), 404, "not_found")
    assert_error(await api.delete(f"{API}/documents/nope"), 404, "not_found")
    assert_error(await api.post(f"{API}/documents/nope/reingest"), 404, "not_found")
    assert_error(await api.get(f"{API}/documents", params={"status": "sleeping"}), 422, "invalid_request")
    assert_error(await api.get(f"{API}/jobs/nope"), 404, "not_found")
    assert_error(await api.get(f"{API}/jobs/nope/events"), 404, "not_found")
    assert_error(await api.post(f"{API}/jobs/nope/retry"), 404, "not_found")
    assert_error(await api.post(f"{API}/jobs/nope/cancel"), 404, "not_found")
    assert_error(await api.post(f"{API}/dlq/nope/replay"), 404, "not_found")
    assert_error(await api.get(f"{API}/jobs", params={"limit": 0}), 422, "invalid_request")
    assert_error(await api.post(f"{API}/search", json={"collections": ["errs"]}), 422, "invalid_request")
    assert_error(
        await api.post(f"{API}/search", json={"query": "q", "collections": []}), 422, "invalid_request"
    )
    assert_error(
        await api.post(f"{API}/search", json={"query": "q", "collections": ["errs"], "top_k": 0}),
        422,
        "invalid_request",
    )
    assert_error(await api.get(f"{API}/no-such-route"), 404, "not_found")
    assert_error(await api.put(f"{API}/collections"), 405, "method_not_allowed")

    accepted = await upload(api, "errs", "ok.md", b"# Ok\n\nA small fine document.\n")
    job_id = accepted.json()["job_id"]
    from tests.support.api import wait_job

    await wait_job(api, job_id)
    assert_error(await api.post(f"{API}/jobs/{job_id}/retry"), 409, "illegal_transition")
    assert_error(await api.post(f"{API}/dlq/{job_id}/replay"), 409, "illegal_transition")
    assert_error(await api.post(f"{API}/jobs/{job_id}/cancel"), 409, "illegal_transition")


async def test_search_on_an_unknown_collection_is_404_and_creates_nothing(
    api: httpx.AsyncClient, chroma_url: str
) -> None:
    await create_collection(api, "known")
    store = VectorStore(chroma_url)
    try:
        before = sorted(await store.list_collection_names())
        response = await api.post(
            f"{API}/search", json={"query": "anything", "collections": ["known", "unknown"]}
        )
        assert_error(response, 404, "not_found")
        assert "unknown" in response.json()["error"]["message"]
        assert_error(await api.get(f"{API}/collections/unknown"), 404, "not_found")
        assert sorted(await store.list_collection_names()) == before
        assert not any(name.startswith("unknown") for name in before)
    finally:
        await store.close()


async def test_uploads_past_the_limit_are_413_while_streaming(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"max_upload_bytes": 10_000, "api_workers": 0})
    async with running_app(settings) as (_, client):
        await create_collection(client, "small")
        # Refused on its Content-Length, before the body is read.
        huge = await upload(client, "small", "big.txt", b"x" * 2_000_000)
        assert_error(huge, 413, "too_large")

        # No Content-Length (chunked): refused at the first byte past the limit.
        boundary = "b0undary"

        async def body():
            yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'.encode()
            for _ in range(100):
                yield b"y" * 1000
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = await client.post(
            f"{API}/collections/small/documents",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
        assert "content-length" not in streamed.request.headers
        assert_error(streamed, 413, "too_large")
        fits = await upload(client, "small", "ok.txt", b"z" * 9_000)
        assert fits.status_code == 202, fits.text


async def test_api_keys(api_settings: Settings) -> None:
    settings = api_settings.model_copy(
        update={"api_keys": f"{KEY_ONE}, {KEY_TWO}", "env": "prod", "api_workers": 0}
    )
    async with running_app(settings) as (_, client):
        missing = await client.get(f"{API}/collections")
        assert_error(missing, 401, "unauthorized")
        assert missing.headers["www-authenticate"] == "Bearer"
        assert_error(
            await client.get(f"{API}/collections", headers={"Authorization": "Bearer nope"}),
            401,
            "unauthorized",
        )
        assert_error(
            await client.get(f"{API}/collections", headers={"Authorization": f"Basic {KEY_ONE}"}),
            401,
            "unauthorized",
        )
        for key in (KEY_ONE, KEY_TWO):
            response = await client.get(f"{API}/collections", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200
        assert (await client.get("/livez")).status_code == 200
        assert (await client.get("/readyz")).json() == {"status": "ready"}
        assert_error(await client.get(f"{API}/admin/health"), 401, "unauthorized")
        health = await client.get(f"{API}/admin/health", headers={"Authorization": f"Bearer {KEY_ONE}"})
        assert health.status_code == 200 and health.json()["status"] == "ready"


async def test_cors_allows_only_the_configured_origins(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"cors_origins": "https://app.example", "api_workers": 0})
    async with running_app(settings) as (_, client):
        preflight = {"Access-Control-Request-Method": "POST"}
        good = await client.options(f"{API}/search", headers={"Origin": "https://app.example", **preflight})
        assert good.headers.get("access-control-allow-origin") == "https://app.example"
        bad = await client.options(f"{API}/search", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in bad.headers


async def test_health_and_metrics(api: httpx.AsyncClient) -> None:
    assert (await api.get("/livez")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}, ready.text
    health = (await api.get(f"{API}/admin/health")).json()
    assert {name for name, check in health["checks"].items() if check["ok"]} == {
        "redis",
        "chroma",
        "compute",
        "lexical",
    }
    metrics = await api.get("/metrics")
    assert metrics.status_code == 200
    assert 'orchestrator_http_requests_total{method="GET",route="/readyz",status="200"}' in metrics.text
    assert "orchestrator_jobs_in_flight" in metrics.text
    assert "orchestrator_lexical_caught_up 1.0" in metrics.text
    assert "orchestrator_search_cache_hit_ratio" in metrics.text


async def test_readyz_reports_what_is_down(api_settings: Settings) -> None:
    settings = api_settings.model_copy(
        update={"chroma_url": "http://127.0.0.1:9", "compute_urls": ["http://127.0.0.1:9"], "api_workers": 0}
    )
    async with running_app(settings) as (_, client):
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "not_ready"}
        checks = (await client.get(f"{API}/admin/health")).json()["checks"]
        assert checks["redis"]["ok"] and not checks["chroma"]["ok"] and not checks["compute"]["ok"]


async def test_top_k_is_bounded_by_the_settings(api: httpx.AsyncClient) -> None:
    await create_collection(api, "bounded")
    response = await api.post(f"{API}/search", json={"query": "q", "collections": ["bounded"], "top_k": 101})
    assert_error(response, 422, "invalid_request")


def test_the_api_command_serves_until_sigterm(api_settings: Settings, tmp_path) -> None:
    import signal

    from tests.support import free_port, wait_ready
    from tests.support.job_queue import api_process_env, start_api_process

    port = free_port()
    env = api_process_env(api_settings)
    log = (tmp_path / "api.log").open("wb")
    process = start_api_process(env, port, log, workers=1)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", process, timeout_s=60)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/collections").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it is done
        log.close()
    output = (tmp_path / "api.log").read_text()
    assert "WITHOUT AUTHENTICATION" in output and "Application shutdown complete" in output


async def test_uploads_and_searches_are_rate_limited_per_key(api_settings: Settings) -> None:
    settings = api_settings.model_copy(
        update={
            "api_keys": f"{KEY_ONE},{KEY_TWO}",
            "uploads_per_min": 2,
            "searches_per_min": 1,
            "api_workers": 0,
        }
    )
    one, two = {"Authorization": f"Bearer {KEY_ONE}"}, {"Authorization": f"Bearer {KEY_TWO}"}
    async with running_app(settings) as (_, client):
        assert (await client.post(f"{API}/collections", json={"name": "rl"}, headers=one)).status_code == 201
        for i in range(2):
            response = await upload(client, "rl", f"{i}.md", f"# {i}\n\ntext {i}\n".encode(), headers=one)
            assert response.status_code == 202
        limited = await upload(client, "rl", "3.md", b"# 3\n\nthree\n", headers=one)
        assert_error(limited, 429, "rate_limited")
        assert limited.json()["error"]["retryable"] is True and int(limited.headers["retry-after"]) >= 1
        assert (await upload(client, "rl", "3.md", b"# 3\n\nthree\n", headers=two)).status_code == 202
        body = {"query": "text", "collections": ["rl"]}
        assert (await client.post(f"{API}/search", json=body, headers=one)).status_code == 200
        assert_error(await client.post(f"{API}/search", json=body, headers=one), 429, "rate_limited")


async def test_original_download_and_request_ids(api: httpx.AsyncClient) -> None:
    await create_collection(api, "orig")
    response = await upload(api, "orig", "../../etc/ré sumé.md", b"# Original\n\nbytes\n")
    assert response.headers["x-request-id"]
    document_id = response.json()["document_id"]
    document = (await api.get(f"{API}/documents/{document_id}")).json()
    assert document["filename"] == "ré sumé.md"  # a name is metadata, never a path
    original = await api.get(f"{API}/documents/{document_id}/original")
    assert original.content == b"# Original\n\nbytes\n"
    assert "filename*=UTF-8''r%C3%A9%20sum%C3%A9.md" in original.headers["content-disposition"]
    echoed = await api.get(f"{API}/collections", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    assert_error(await api.get(f"{API}/documents/nope/original"), 404, "not_found")
