"""Hybrid search through the API on a real stack (Redis, Chroma, compute with its real model, the app's
own tantivy index): exact tokens, deletes and re-ingests in every mode, filters, highlights, the query
cache, readiness, and the lexical index surviving restarts (replay) and a trimmed change stream (rebuild)."""

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.settings import Settings
from tests.support.api import API, create_collection, ingest, running_app, upload, wait_document, wait_job

MODES = ("hybrid", "dense", "lexical")

# Near-identical maintenance notes: only the part number and the inspector's surname tell them apart.
PARTS = ["QM-4471", "RT-9902", "LB-3318", "VC-5540", "HN-1276", "PD-8834", "SW-6617", "GA-2095", "MT-7723"]
SURNAMES = ["Larsen", "Moreau", "Fischer", "Tanaka", "Silva", "Novak", "Brennan", "Haddad", "Kowalski"]


def note(part: str, surname: str) -> bytes:
    return (
        f"# Pump maintenance\n\nThe hydraulic pump was inspected and its seals were replaced. Part {part} was "
        f"fitted to the housing after the pressure test. Inspector {surname} signed the maintenance log and "
        "scheduled the next service in six months.\n"
    ).encode()


async def search_once(
    client: httpx.AsyncClient, query: str, collections: list[str], **body: Any
) -> list[dict]:
    response = await client.post(
        f"{API}/search",
        json={"query": query, "collections": collections, **body},
        headers={"Cache-Control": "no-cache"},
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]


async def search_until(
    client: httpx.AsyncClient,
    query: str,
    collections: list[str],
    done: Callable[[list[dict]], bool],
    timeout_s: float = 10.0,
    **body: Any,
) -> list[dict]:
    """Searches until `done` holds (the lexical index applies a commit a moment after it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        results = await search_once(client, query, collections, **body)
        if done(results) or time.monotonic() > deadline:
            return results
        await asyncio.sleep(0.05)


def document_ids(results: list[dict]) -> list[str]:
    return [r["document_id"] for r in results]


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    match = re.search(rf"^{name}(?:_total)?(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


async def notes_collection(client: httpx.AsyncClient, name: str = "notes") -> dict[str, str]:
    """The collection with one note per part; returns part -> document id. The target note is XK-2207b
    by Okonkwo."""
    await create_collection(client, name)
    ids = {}
    for part, surname in [*zip(PARTS, SURNAMES, strict=True), ("XK-2207b", "Okonkwo")]:
        response = await upload(client, name, f"{part}.md", note(part, surname))
        assert response.status_code == 202, response.text
        ids[part] = response.json()["document_id"]
    for document_id in ids.values():
        assert (await wait_document(client, document_id))["status"] == "ready"
    return ids


async def lexical_ready(client: httpx.AsyncClient, timeout_s: float = 30.0) -> None:
    """Waits for a freshly started app's lexical index to catch up (its health report says so)."""
    deadline = time.monotonic() + timeout_s
    while not (await client.get(f"{API}/admin/health")).json()["checks"]["lexical"]["ok"]:
        assert time.monotonic() < deadline, "the lexical index never caught up"
        await asyncio.sleep(0.05)


async def caught_up(client: httpx.AsyncClient, redis: Redis, timeout_s: float = 10.0) -> None:
    """Waits until the app's lexical index has applied the newest change."""
    deadline = time.monotonic() + timeout_s
    while True:
        newest = await redis.xrevrange(keys.SEARCH_CHANGES, count=1)
        lexical = (await client.get(f"{API}/admin/health")).json()["checks"]["lexical"]
        if lexical["ok"] and newest and lexical["applied"] == newest[0][0]:
            return
        assert time.monotonic() < deadline, (lexical, newest)
        await asyncio.sleep(0.05)


async def test_an_exact_token_is_rank_one_in_lexical_and_hybrid_with_its_highlights(
    api: httpx.AsyncClient,
) -> None:
    ids = await notes_collection(api)
    target = ids["XK-2207b"]
    for query in ("XK-2207b", "Okonkwo"):
        for mode in ("lexical", "hybrid"):
            results = await search_until(
                api, query, ["notes"], lambda r: bool(r) and r[0]["document_id"] == target, mode=mode
            )
            assert document_ids(results)[:1] == [target], (query, mode, document_ids(results))
            best = results[0]
            assert best["scores"]["lexical"] > 0
            marked = {best["text"][a:b] for a, b in best["highlights"]}
            assert marked == ({"XK", "2207b"} if query == "XK-2207b" else {"Okonkwo"}), (mode, marked)
        hybrid = await search_once(api, query, ["notes"], mode="hybrid")
        assert hybrid[0]["scores"]["fused"] == hybrid[0]["score"] > 0
        # Only the target holds the token: every other hybrid result came from the dense side alone.
        assert all(r["scores"]["lexical"] is None for r in hybrid[1:])
    lexical = await search_once(api, "Okonkwo", ["notes"], mode="lexical")
    assert document_ids(lexical) == [target]  # lexical returns only what matches a term
    dense = await search_once(api, "Okonkwo", ["notes"], mode="dense")
    assert dense and all(r["scores"]["lexical"] is None and r["scores"]["fused"] is None for r in dense)


async def test_filters_mean_the_same_in_every_mode(api: httpx.AsyncClient) -> None:
    await create_collection(api, "teams")
    by_team: dict[str, set[str]] = {"a": set(), "b": set()}
    for i, (part, surname) in enumerate(zip(PARTS[:6], SURNAMES[:6], strict=True)):
        team = "a" if i % 2 else "b"
        document = await ingest(
            api, "teams", f"{part}.md", note(part, surname), metadata=f'{{"team": "{team}"}}'
        )
        by_team[team].add(document["id"])
    query = "hydraulic pump seals"
    for mode in MODES:
        everything = await search_until(api, query, ["teams"], lambda r: len(r) == 6, mode=mode, top_k=10)
        assert set(document_ids(everything)) == by_team["a"] | by_team["b"], mode
        for team in ("a", "b"):
            found = await search_once(api, query, ["teams"], mode=mode, top_k=10, filters={"team": team})
            assert set(document_ids(found)) == by_team[team], (mode, team)
            assert all(r["metadata"]["team"] == team for r in found)
        none = await search_once(api, query, ["teams"], mode=mode, filters={"team": "c"})
        assert none == [], mode


async def test_a_deleted_document_is_never_returned_by_any_mode_even_while_its_delete_job_waits(
    api_settings: Settings, redis: Redis
) -> None:
    async with running_app(api_settings) as (_, client):
        ids = await notes_collection(client)
    target = ids["XK-2207b"]
    # No worker in this app: the delete job stays queued, the document `deleting`, its vectors in Chroma.
    async with running_app(api_settings.model_copy(update={"api_workers": 0})) as (_, client):
        await lexical_ready(client)
        for mode in ("lexical", "hybrid"):
            found = await search_until(
                client, "XK-2207b", ["notes"], lambda r: target in document_ids(r), mode=mode
            )
            assert document_ids(found)[0] == target, mode
        response = await client.delete(f"{API}/documents/{target}")
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        assert (await client.get(f"{API}/documents/{target}")).json()["status"] == "deleting"
        for query in ("XK-2207b", "Okonkwo", "hydraulic pump maintenance"):
            for mode in MODES:
                results = await search_once(client, query, ["notes"], mode=mode, top_k=20)
                assert target not in document_ids(results), (query, mode)
        job = (await client.get(f"{API}/jobs/{job_id}")).json()
        assert job["status"] == "queued", job  # the delete really had not run
    async with running_app(api_settings) as (_, client):  # workers again: the delete finishes
        await wait_job(client, job_id)
        await lexical_ready(client)
        for mode in MODES:
            assert target not in document_ids(await search_once(client, "XK-2207b", ["notes"], mode=mode))


async def test_after_a_reingest_the_old_text_is_never_returned(api: httpx.AsyncClient) -> None:
    await create_collection(api, "versions", chunking={"max_tokens": 512})
    text = b"# Glossary\n\n" + b" ".join(b"The zephyrine valve regulates flow %d." % i for i in range(40))
    first = await ingest(api, "versions", "glossary.md", text)
    assert first["generation"] == 1
    await search_until(api, "zephyrine", ["versions"], bool, mode="lexical")
    response = await api.post(
        f"{API}/documents/{first['id']}/reingest", json={"chunking": {"max_tokens": 32}}
    )
    assert response.status_code == 202, response.text
    second = await wait_document(api, first["id"])
    assert second["status"] == "ready" and second["generation"] > 1
    fresh = f"{first['id']}:{second['generation']}:"

    def only_fresh(results: list[dict]) -> bool:
        return bool(results) and all(r["chunk_id"].startswith(fresh) for r in results)

    lexical = await search_until(api, "zephyrine valve", ["versions"], only_fresh, mode="lexical", top_k=50)
    assert only_fresh(lexical), [r["chunk_id"] for r in lexical]
    assert len(lexical) == second["chunk_count"]  # every new chunk holds the word, and no old one is left
    for mode in ("dense", "hybrid"):
        results = await search_once(api, "zephyrine valve", ["versions"], mode=mode, top_k=50)
        assert only_fresh(results), (mode, [r["chunk_id"] for r in results])


async def test_the_cache_answers_repeats_and_is_bypassed_after_a_commit_or_patch(
    api: httpx.AsyncClient, redis: Redis
) -> None:
    ids = await notes_collection(api)
    body = {"query": "Okonkwo", "collections": ["notes"], "mode": "hybrid"}
    await caught_up(api, redis)  # an answer is stored only once the index has seen every change
    first = await search_once(api, "Okonkwo", ["notes"])
    assert first[0]["document_id"] == ids["XK-2207b"]
    hits = await metric(api, "orchestrator_search_cache_hits")
    stored = (await api.post(f"{API}/search", json=body)).json()["results"]  # a miss, stored
    again = (await api.post(f"{API}/search", json=body)).json()["results"]
    assert again == stored and document_ids(again) == document_ids(first)
    assert await metric(api, "orchestrator_search_cache_hits") == hits + 1
    # A commit to the collection: the same request is answered anew and finds the new note.
    newcomer = (await ingest(api, "notes", "ZZ-1.md", note("ZZ-1", "Okonkwo")))["id"]
    found = []
    deadline = time.monotonic() + 10
    while newcomer not in found and time.monotonic() < deadline:
        found = document_ids((await api.post(f"{API}/search", json=body)).json()["results"])
    assert newcomer in found
    # A metadata patch: the cached answer's metadata is never served stale.
    await api.post(f"{API}/search", json=body)
    response = await api.patch(f"{API}/documents/{newcomer}", json={"metadata": {"checked": True}})
    assert response.status_code == 200, response.text
    results = (await api.post(f"{API}/search", json=body)).json()["results"]
    assert {r["document_id"]: r["metadata"] for r in results}[newcomer] == {"checked": True}
    bypassed = await metric(api, "orchestrator_search_cache_bypassed")
    hits = await metric(api, "orchestrator_search_cache_hits")
    await search_once(api, "Okonkwo", ["notes"])  # Cache-Control: no-cache
    assert await metric(api, "orchestrator_search_cache_bypassed") == bypassed + 1
    assert await metric(api, "orchestrator_search_cache_hits") == hits
    assert 0 < await metric(api, "orchestrator_search_cache_hit_ratio") < 1


async def test_fusion_weights_change_the_ranking(api: httpx.AsyncClient) -> None:
    ids = await notes_collection(api)
    await search_until(api, "XK-2207b", ["notes"], bool, mode="lexical")  # the index has the notes
    only_dense = await search_once(api, "XK-2207b", ["notes"], fusion={"weights": {"lexical": 0}}, top_k=10)
    dense = await search_once(api, "XK-2207b", ["notes"], mode="dense", top_k=10)
    assert document_ids(only_dense) == document_ids(dense)
    assert only_dense[0]["scores"]["fused"] == 1 / 61  # rank 1 of the dense side at k=60, weight 1
    k10 = await search_once(api, "XK-2207b", ["notes"], fusion={"k": 10})
    assert k10[0]["document_id"] == ids["XK-2207b"] and k10[0]["scores"]["fused"] > 1 / 11


async def test_readyz_waits_for_the_lexical_index(api_settings: Settings, redis: Redis) -> None:
    async with running_app(api_settings) as (_, client):
        await notes_collection(client)
        await caught_up(client, redis)
    # A follower that is not caught up (rebuilding, or its sources failing): /readyz is 503, lexical search
    # is 503 index_not_ready with Retry-After, and dense search still answers.
    async with running_app(api_settings.model_copy(update={"api_workers": 0})) as (app, client):
        await lexical_ready(client)
        await app.state.search.follower.stop()
        assert (await client.get("/readyz")).status_code == 200
        app.state.search.follower.caught_up = False  # what a failing or rebuilding follower reports
        assert (await client.get("/readyz")).status_code == 503
        lexical = (await client.get(f"{API}/admin/health")).json()["checks"]["lexical"]
        assert lexical["ok"] is False and lexical["reason"] == "not_caught_up"
        lexical = await client.post(
            f"{API}/search", json={"query": "pump", "collections": ["notes"], "mode": "lexical"}
        )
        assert lexical.status_code == 503 and lexical.json()["error"]["code"] == "index_not_ready"
        assert int(lexical.headers["retry-after"]) >= 1
        dense = await client.post(
            f"{API}/search", json={"query": "pump", "collections": ["notes"], "mode": "dense"}
        )
        assert dense.status_code == 200 and dense.json()["results"]  # dense search still answers


async def test_an_api_restart_replays_what_it_missed_and_a_trimmed_stream_rebuilds(
    api_settings: Settings, redis: Redis, tmp_path
) -> None:
    own = api_settings.model_copy(update={"lexical_dir": str(tmp_path / "lexical")})
    other = api_settings  # another process's index, doing the work while `own` is down
    async with running_app(own) as (_, client):
        ids = await notes_collection(client)
        await search_until(client, "Okonkwo", ["notes"], bool, mode="lexical")
        assert await metric(client, "orchestrator_lexical_rebuilds") == 1  # a new index is built once
    async with running_app(other) as (_, client):
        missed = (await ingest(client, "notes", "AB-1.md", note("AB-1", "Eriksdottir")))["id"]
        response = await client.delete(f"{API}/documents/{ids['XK-2207b']}")
        await wait_job(client, response.json()["job_id"])
    async with running_app(own) as (_, client):  # same slot, same cursor: it replays
        await lexical_ready(client)
        found = await search_until(client, "Eriksdottir", ["notes"], bool, mode="lexical")
        assert document_ids(found) == [missed]
        assert await search_once(client, "Okonkwo", ["notes"], mode="lexical") == []
        assert await metric(client, "orchestrator_lexical_rebuilds") == 0
    async with running_app(other) as (_, client):
        late = (await ingest(client, "notes", "AB-2.md", note("AB-2", "Vasquez")))["id"]
    await redis.xtrim(keys.SEARCH_CHANGES, maxlen=0)  # what `own` would replay is gone
    async with running_app(own) as (_, client):
        await lexical_ready(client)
        found = await search_until(client, "Vasquez", ["notes"], bool, mode="lexical")
        assert document_ids(found) == [late]
        assert document_ids(await search_once(client, "Eriksdottir", ["notes"], mode="lexical")) == [missed]
        assert await metric(client, "orchestrator_lexical_rebuilds") == 1


async def test_one_collection_never_returns_another_ones_chunks(api: httpx.AsyncClient) -> None:
    """Searching one collection never returns another's chunks, in any mode (one index holds them all)."""
    await create_collection(api, "left")
    await create_collection(api, "right")
    await ingest(api, "left", "l.md", note("XK-2207b", "Okonkwo"))
    right = (await ingest(api, "right", "r.md", note("XK-2207b", "Okonkwo")))["id"]
    for mode in MODES:
        found = await search_until(api, "Okonkwo", ["right"], bool, mode=mode)
        assert document_ids(found) == [right], mode


async def test_an_answer_computed_while_the_index_lags_is_served_but_never_cached(
    api_settings: Settings, redis: Redis
) -> None:
    async with running_app(api_settings) as (app, client):
        ids = await notes_collection(client)
        await caught_up(client, redis)
        follower = app.state.search.follower
        await follower.stop()  # the index now lags every change that follows
        newcomer = (await ingest(client, "notes", "ZZ-9.md", note("ZZ-9", "Okonkwo")))["id"]
        body = {"query": "Okonkwo", "collections": ["notes"]}
        not_stored = await metric(client, "orchestrator_search_cache_not_stored")
        lagging = (await client.post(f"{API}/search", json=body)).json()["results"]
        assert [r["scores"]["lexical"] for r in lagging if r["document_id"] == newcomer] == [None]
        assert await metric(client, "orchestrator_search_cache_not_stored") == not_stored + 1
        await follower.start()
        await caught_up(client, redis)
        fresh = (await client.post(f"{API}/search", json=body)).json()["results"]  # not the lagging answer
        assert {r["document_id"] for r in fresh if r["scores"]["lexical"]} == {ids["XK-2207b"], newcomer}


async def test_a_process_without_an_index_holds_no_slot_and_refuses_lexical_search(
    api_settings: Settings, tmp_path
) -> None:
    settings = api_settings.model_copy(
        update={"lexical_enabled": False, "lexical_dir": str(tmp_path / "lex")}
    )
    async with running_app(settings) as (app, client):
        assert app.state.search.follower is None and not (tmp_path / "lex").exists()
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get(f"{API}/admin/health")).json()["checks"]["lexical"] is None
        await create_collection(client, "bare")
        for mode in ("lexical", "hybrid"):
            response = await client.post(
                f"{API}/search", json={"query": "x", "collections": ["bare"], "mode": mode}
            )
            assert response.status_code == 503 and response.json()["error"]["code"] == "index_not_ready"
        dense = await client.post(
            f"{API}/search", json={"query": "x", "collections": ["bare"], "mode": "dense"}
        )
        assert dense.status_code == 200
