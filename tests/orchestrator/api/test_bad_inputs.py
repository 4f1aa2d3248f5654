"""Bad input found by fuzzing and by reading answers a 4xx with a stable code, never a 500 (search options
included; a query's syntax is text, never operators); a Redis pool with no free connection answers 503
with Retry-After."""

import httpx
import pytest

from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, create_collection, ingest, running_app

SEARCH_MODES = ("hybrid", "dense", "lexical")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/dlq", {"cursor": "null"}),
        ("/dlq", {"cursor": "1-2-3"}),
        ("/dlq", {"cursor": "99999999999999999999"}),  # past 2^64
        ("/jobs", {"cursor": "a:b"}),
        ("/jobs", {"cursor": "x" * 200}),
        ("/documents", {"cursor": "bad cursor"}),
        ("/collections", {"cursor": "é"}),
        ("/documents/nope/chunks", {"cursor": "²"}),
        ("/documents/nope/chunks", {"cursor": "-1"}),
        ("/documents/nope/chunks", {"cursor": "9" * 30}),
        ("/jobs", {"limit": str(2**63)}),
        ("/documents", {"limit": str(2**64 + 1)}),
    ],
)
async def test_bad_cursors_and_huge_limits_are_422(api: httpx.AsyncClient, path: str, params: dict) -> None:
    assert_error(await api.get(f"{API}{path}", params=params), 422, "invalid_request")


@pytest.mark.parametrize("grace_s", ["1.8e308", "inf", "nan", "-1", "-0.5", str(2**64)])
async def test_reconcile_grace_out_of_range_is_422(api: httpx.AsyncClient, grace_s: str) -> None:
    response = await api.post(f"{API}/admin/reconcile", params={"grace_s": grace_s})
    assert_error(response, 422, "invalid_request")


async def test_odd_ids_are_refused_before_any_lookup(api: httpx.AsyncClient) -> None:
    await create_collection(api, "odd")
    job_id = (await api.delete(f"{API}/collections/odd")).json()["job_id"]
    assert (await api.get(f"{API}/jobs/{job_id}")).status_code == 200
    for path in (
        f"/jobs/{job_id}:events",  # would name the job's event stream, a key of another type
        f"/jobs/{job_id}%3Aevents/events",
        f"/jobs/{job_id}:events/cancel",
        f"/documents/{job_id}:x",
        f"/documents/{job_id}:x/chunks",
    ):
        method = api.post if path.endswith("cancel") else api.get
        response = await method(f"{API}{path}")
        assert response.status_code in (404, 422), (path, response.text)
        assert response.json()["error"]["code"] in ("not_found", "invalid_request")


async def test_integers_past_2_63_in_bodies_are_422(api: httpx.AsyncClient) -> None:
    await create_collection(api, "ints")
    for top_k in (2**63, 2**64 + 7, -(2**63) - 1):
        response = await api.post(
            f"{API}/search", json={"query": "x", "collections": ["ints"], "top_k": top_k}
        )
        assert_error(response, 422, "invalid_request")
    body = {"name": "ints2", "chunking": {"max_tokens": 2**70}}
    assert_error(await api.post(f"{API}/collections", json=body), 422, "invalid_request")


async def test_a_non_ascii_request_id_is_replaced_before_it_travels(api: httpx.AsyncClient) -> None:
    """'é' passes str.isalnum(); sent on toward compute it would make httpx fail (a 500 before)."""
    await create_collection(api, "rid")
    await ingest(api, "rid", "r.md", b"# Rivers\n\nRivers carry water to the sea.\n")
    for given in ("café".encode("latin-1"), b"\xb2\xb3", "ok-ascii-é".encode("latin-1")):
        response = await api.post(
            f"{API}/search", json={"query": "rivers", "collections": ["rid"]}, headers={"X-Request-ID": given}
        )
        assert response.status_code == 200, response.text
        echoed = response.headers["X-Request-ID"]
        assert echoed.isascii() and echoed.encode() != given
    sane = await api.get("/livez", headers={"X-Request-ID": "req-1.a_b:c"})
    assert sane.headers["X-Request-ID"] == "req-1.a_b:c"


async def test_an_exhausted_redis_pool_is_503_with_retry_after_then_recovers(api_settings: Settings) -> None:
    settings = api_settings.model_copy(
        update={"redis_max_connections": 2, "redis_pool_timeout_s": 0.2, "api_workers": 0}
    )
    async with running_app(settings) as (app, client):
        pool = app.state.clients.redis.connection_pool
        held = [await pool.get_connection() for _ in range(2)]  # every connection the API may use
        try:
            busy = await client.get(f"{API}/jobs")
            assert_error(busy, 503, "unavailable")
            assert busy.json()["error"]["retryable"] is True
            assert int(busy.headers["Retry-After"]) >= 1
        finally:
            for connection in held:
                await pool.release(connection)
        assert (await client.get(f"{API}/jobs")).status_code == 200


SURROGATE = '"\\ud800"'  # JSON for a lone surrogate: valid JSON, not encodable as UTF-8


async def test_lone_surrogates_are_422_and_every_listing_still_answers(api: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/json"}
    created = await api.post(
        f"{API}/collections", content=f'{{"name": "sur", "metadata": {{"k": {SURROGATE}}}}}', headers=headers
    )
    assert_error(created, 422, "invalid_request")
    await create_collection(api, "sur")
    patched = await api.patch(
        f"{API}/collections/sur", content=f'{{"metadata": {{{SURROGATE}: 1}}}}', headers=headers
    )
    assert_error(patched, 422, "invalid_request")
    upload = await api.post(
        f"{API}/collections/sur/documents",
        files={"file": ("a.md", b"# A\n\nsome text here")},
        data={"metadata": f'{{"k": {SURROGATE}}}'},
    )
    assert_error(upload, 422, "invalid_metadata")
    document = await ingest(api, "sur", "b.md", b"# B\n\nother text here")
    patch = await api.patch(
        f"{API}/documents/{document['id']}",
        content=f'{{"metadata": {{"k": [{SURROGATE}]}}}}',
        headers=headers,
    )
    assert_error(patch, 422, "invalid_metadata")
    reingest = await api.post(
        f"{API}/documents/{document['id']}/reingest",
        content=f'{{"password": {SURROGATE}}}',
        headers=headers,
    )
    assert_error(reingest, 422, "invalid_request")
    # Nothing of it was stored: every read still answers.
    for path in ("/collections", "/collections/sur", "/documents", f"/documents/{document['id']}"):
        assert (await api.get(f"{API}{path}")).status_code == 200, path


async def test_search_options_are_checked(api: httpx.AsyncClient) -> None:
    await create_collection(api, "options")
    cases = [
        {"mode": "fuzzy"},
        {"mode": "hybrid", "min_score": 0.5},
        {"mode": "lexical", "min_score": 0.5},
        {"fusion": {"k": 0}},
        {"fusion": {"weights": {"dense": 0, "lexical": 0}}},
        {"fusion": {"weights": {"dense": -1}}},
    ]
    for extra in cases:
        response = await api.post(f"{API}/search", json={"query": "x", "collections": ["options"], **extra})
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["error"]["code"] == "invalid_request", extra
    for mode in SEARCH_MODES:  # user query syntax is text, never operators
        for query in ('AND ( : " - *', "title:x OR -y", "🙂 ∑ \\"):
            response = await api.post(
                f"{API}/search", json={"query": query, "collections": ["options"], "mode": mode}
            )
            assert response.status_code == 200, (mode, query, response.text)
        response = await api.post(f"{API}/search", json={"query": "x", "collections": ["nope"], "mode": mode})
        assert response.status_code == 404, (mode, response.text)
