"""The `docsearch` command-line client against the real API stack (Redis, Chroma, compute), in-process."""

from pathlib import Path

import httpx
import pytest

from orchestrator.cli import run
from orchestrator.settings import Settings
from tests.support.api import running_app

KEY = "cli-test-key-" + "0" * 32  # long enough for the API (orchestrator.api.security)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "glaciers.md").write_text(
        "# Glaciers\n\nGlaciers carve valleys as they slowly move downhill.\n"
    )
    (folder / "sub" / "violins.md").write_text("# Violins\n\nA violin has four strings tuned in fifths.\n")
    (folder / ".hidden.md").write_text("# Hidden\n\nNever uploaded.\n")
    return folder


async def test_ingest_a_folder_then_search_list_and_jobs(
    api_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path)
    async with running_app(api_settings) as (app, _):
        transport = httpx.ASGITransport(app=app)

        # Nothing is created implicitly: a missing collection is an error unless --create.
        assert await run(["ingest", str(folder), "--collection", "notes"], transport=transport) == 1
        assert "--create" in capsys.readouterr().err

        assert await run(["ingest", str(folder), "-c", "notes", "--create"], transport=transport) == 0
        out = capsys.readouterr().out
        assert "created collection 'notes'" in out
        assert "glaciers.md" in out and "violins.md" in out and ".hidden" not in out
        assert "succeeded" in out and "2 of 2 file(s) ingested" in out

        # The same files again: skipped as duplicates, nothing new to follow.
        assert await run(["ingest", str(folder / "glaciers.md"), "-c", "notes"], transport=transport) == 0
        assert "already in 'notes'" in capsys.readouterr().out

        assert (
            await run(
                ["search", "how many strings on a violin", "-c", "notes", "-k", "1"], transport=transport
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "violins.md" in out and "glaciers.md" not in out

        assert await run(["collections"], transport=transport) == 0
        line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("notes"))
        assert line.split()[1:3] == ["active", "2"]

        assert await run(["jobs", "--status", "succeeded"], transport=transport) == 0
        assert capsys.readouterr().out.count("succeeded") == 2

        assert await run(["search", "x", "-c", "missing"], transport=transport) == 1
        assert "not_found" in capsys.readouterr().err


async def test_api_key_and_usage_errors(
    api_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = api_settings.model_copy(update={"api_keys": KEY, "env": "prod"})
    async with running_app(settings) as (app, _):
        transport = httpx.ASGITransport(app=app)
        assert await run(["collections"], transport=transport) == 1
        assert "401" in capsys.readouterr().err
        assert await run(["--api-key", KEY, "collections"], transport=transport) == 0
        monkeypatch.setenv("DOCSEARCH_API_KEY", KEY)
        assert await run(["collections"], transport=transport) == 0
        capsys.readouterr()

        assert await run(["ingest", str(tmp_path / "nowhere"), "-c", "x"], transport=transport) == 1
        assert "no such file or folder" in capsys.readouterr().err
