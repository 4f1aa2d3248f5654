"""/docs, /redoc and /openapi.json: off in prod unless ORCH_PUBLIC_DOCS=true, on in dev mode; /docs is a
page of this server (no script from a CDN) that links to the schema; `make openapi` renders the schema
whatever the flag. No server is needed: these routes touch no dependency."""

import httpx
import pytest

from orchestrator.api import create_app
from orchestrator.api.openapi_document import render
from orchestrator.settings import Settings
from tests.support import assert_error

KEY = "d" * 32 + "-docs"


async def _get(settings: Settings, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.get(path)


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_prod_serves_no_docs_by_default(path: str) -> None:
    assert_error(await _get(Settings(env="prod", api_keys=KEY), path), 404, "not_found")


@pytest.mark.parametrize(
    "settings",
    [Settings(env="prod", api_keys=KEY, public_docs=True), Settings(env="dev")],
    ids=["prod-public-docs", "dev"],
)
async def test_the_flag_or_dev_mode_serve_the_schema_and_a_page_without_a_cdn(settings: Settings) -> None:
    schema = await _get(settings, "/openapi.json")
    assert schema.status_code == 200 and "/api/v1/admin/health" in schema.json()["paths"]
    page = await _get(settings, "/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/openapi.json"' in page.text
    assert "<script" not in page.text and "<link" not in page.text and "cdn" not in page.text.lower()
    assert_error(await _get(settings, "/redoc"), 404, "not_found")  # ReDoc, too, loads from a CDN


def test_make_openapi_renders_the_schema_though_its_app_serves_none() -> None:
    # render() builds its app with the defaults: prod, ORCH_PUBLIC_DOCS false, so /openapi.json is off.
    assert "/api/v1/admin/health" in render()
