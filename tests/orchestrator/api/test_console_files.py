"""/console serves the built operator console: its page, its hashed assets (cached for good), a CSP that
keeps every request on this origin, a coded 404 when the console was never built, and nothing outside
its folder. The real build is driven in Chromium by tests/e2e/test_4_console.py."""

from pathlib import Path

import pytest
from starlette.exceptions import HTTPException

from orchestrator.api.console import BUILT_DIR, ConsoleFiles
from orchestrator.settings import Settings
from tests.support.api import API, running_app

PAGE = b'<!doctype html><html><head><script type="module" src="/console/assets/app-1a2b.js"></script></head></html>'
ASSET = b"console.log('built');\n"


@pytest.fixture
def built(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(PAGE)
    (tmp_path / "assets" / "app-1a2b.js").write_bytes(ASSET)
    (tmp_path.parent / "secret.txt").write_text("not for the console")
    return tmp_path


async def test_the_console_page_and_assets_are_served_on_this_origin_only(
    api_settings: Settings, built: Path
) -> None:
    async with running_app(api_settings.model_copy(update={"console_dir": str(built)})) as (_, client):
        root = await client.get("/console")
        assert root.status_code == 307 and root.headers["location"] == "/console/"

        page = await client.get("/console/")
        assert page.status_code == 200 and page.content == PAGE
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
        assert page.headers["cache-control"] == "no-cache"  # a rebuilt console is picked up at once

        asset = await client.get("/console/assets/app-1a2b.js")
        assert asset.status_code == 200 and asset.content == ASSET
        assert "immutable" in asset.headers["cache-control"]

        # The console is public; what it calls is not in dev mode either way, but the files need no key.
        missing = await client.get("/console/assets/nope.js")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        for escape in ("/console/%2e%2e/secret.txt", "/console/..%2fsecret.txt"):
            response = await client.get(escape)
            assert b"not for the console" not in response.content, escape
    # A path that reaches the files with its '..' intact (httpx would normalise it away before sending).
    files = ConsoleFiles(built)
    with pytest.raises(HTTPException) as refused:
        await files.get_response("../secret.txt", {"type": "http", "method": "GET", "headers": []})
    assert refused.value.status_code == 404


async def test_an_unbuilt_console_answers_a_coded_404_and_the_api_still_serves(
    api_settings: Settings, tmp_path: Path
) -> None:
    empty = tmp_path / "never-built"
    async with running_app(api_settings.model_copy(update={"console_dir": str(empty)})) as (_, client):
        for path in ("/console", "/console/", "/console/assets/x.js"):
            response = await client.get(path)
            assert response.status_code == 404, path
            error = response.json()["error"]
            assert error["code"] == "console_not_built" and "make setup" in error["message"], path
        assert (await client.get(f"{API}/collections")).status_code == 200


def test_the_default_folder_is_where_the_build_writes() -> None:
    package_json = BUILT_DIR.parent / "package.json"
    assert package_json.is_file(), BUILT_DIR
    assert '"build"' in package_json.read_text()
