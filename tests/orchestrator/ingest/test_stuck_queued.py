"""No document waits `queued` for a job that does not exist: when queueing its re-ingest fails, it is
failed at once (queue_unavailable); when the process dies between marking it queued and queueing the
job, the reconciler fails it once it is older than the grace (job_lost). Either way its searchable
generation stays, and a re-ingest is accepted afterwards (not 409). A fresh one is left alone.

Real Redis, Chroma and compute; the failures are injected into the real clients."""

from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from orchestrator.catalog import generations
from orchestrator.clients import Clients
from orchestrator.ingest.reconciler import Reconciler
from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, create_collection, ingest, running_app, wait_document

TEXT = b"# Otters\n\nSea otters hold hands while they sleep so that they do not drift apart.\n"


async def _document(api: httpx.AsyncClient, document_id: str) -> dict[str, Any]:
    response = await api.get(f"{API}/documents/{document_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def _reingest_is_accepted(api: httpx.AsyncClient, document_id: str) -> None:
    response = await api.post(f"{API}/documents/{document_id}/reingest")
    assert response.status_code == 202, response.text
    document = await wait_document(api, document_id)
    assert document["status"] == "ready" and document["generation"] == 2, document


async def test_a_reingest_whose_enqueue_fails_leaves_the_document_failed_not_queued(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(api_settings) as (app, api):
        await create_collection(api, "otters")
        document = await ingest(api, "otters", "otters.md", TEXT)
        clients: Clients = app.state.clients

        async def enqueue_fails(*args: object, **kwargs: object) -> object:
            raise RedisConnectionError("Redis went away")

        monkeypatch.setattr(clients.queue, "enqueue", enqueue_fails)
        response = await api.post(f"{API}/documents/{document['id']}/reingest")
        assert_error(response, 503, "unavailable")
        monkeypatch.undo()

        after = await _document(api, document["id"])
        assert after["status"] == "failed" and after["job_id"] is None, after
        assert after["error"]["code"] == "queue_unavailable"
        assert after["generation"] == 1 and after["chunk_count"] == document["chunk_count"]
        await _reingest_is_accepted(api, document["id"])


async def test_a_document_left_queued_by_a_crash_is_failed_by_the_reconciler(
    api_settings: Settings,
) -> None:
    async with running_app(api_settings.model_copy(update={"reconcile_grace_s": 0})) as (app, api):
        await create_collection(api, "otters")
        document = await ingest(api, "otters", "otters.md", TEXT)
        clients: Clients = app.state.clients
        # The process marks it queued for a re-ingest, then dies before queueing the job.
        await generations.mark_queued(clients.redis, document["id"])
        assert (await _document(api, document["id"]))["status"] == "queued"

        report = await Reconciler(clients, grace_s=0).run()
        assert report.documents_failed == 1
        after = await _document(api, document["id"])
        assert after["status"] == "failed" and after["error"]["code"] == "job_lost", after
        assert after["generation"] == 1
        assert (await Reconciler(clients, grace_s=0).run()).documents_failed == 0
        await _reingest_is_accepted(api, document["id"])


async def test_a_fresh_queued_document_within_the_grace_is_left_alone(api_settings: Settings) -> None:
    async with running_app(api_settings.model_copy(update={"reconcile_grace_s": 600})) as (app, api):
        await create_collection(api, "otters")
        document = await ingest(api, "otters", "otters.md", TEXT)
        clients: Clients = app.state.clients
        # Between mark_queued and queueing its job, as a re-ingest in progress is.
        await generations.mark_queued(clients.redis, document["id"])

        report = await Reconciler(clients).run()
        assert report.documents_failed == 0
        assert (await _document(api, document["id"]))["status"] == "queued"
