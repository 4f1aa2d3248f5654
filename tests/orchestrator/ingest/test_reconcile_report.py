"""GET /api/v1/admin/reconcile: the latest round's report, whichever process ran it (the console shows
it); 404 before any round."""

from orchestrator.settings import Settings
from tests.support.api import API, create_collection, running_app
from tests.support.job_queue import wait_until


async def test_the_last_report_is_kept_for_operators(api_settings: Settings) -> None:
    async with running_app(api_settings) as (_, client):
        before = await client.get(f"{API}/admin/reconcile")
        assert before.status_code == 404 and before.json()["error"]["code"] == "not_found"

        await create_collection(client, "kept-report")
        ran = (await client.post(f"{API}/admin/reconcile")).json()
        assert ran["collections_checked"] == 1
        assert 0 < ran["started_at_ms"] <= ran["finished_at_ms"]
        assert (await client.get(f"{API}/admin/reconcile")).json() == ran


async def test_a_periodic_round_is_reported_too(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"reconcile_interval_s": 0.2})
    async with running_app(settings) as (_, client):

        async def reported() -> bool:
            return (await client.get(f"{API}/admin/reconcile")).status_code == 200

        await wait_until(reported, timeout_s=20, what="a periodic reconcile round's report")
        report = (await client.get(f"{API}/admin/reconcile")).json()
        assert report["finished_at_ms"] >= report["started_at_ms"] > 0
