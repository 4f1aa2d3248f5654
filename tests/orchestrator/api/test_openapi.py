"""docs/openapi.json is the running app's OpenAPI document (the console's types and any frontend's typed
client are generated from it), the same on every machine, and every operation has a unique lowerCamelCase
operationId."""

import difflib
import json
import re
from pathlib import Path

import pytest

from orchestrator.api.openapi_document import render

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
LOWER_CAMEL = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*$")
METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _operation_ids(document: dict) -> list[str]:
    return [
        operation["operationId"]
        for path in document["paths"].values()
        for method, operation in path.items()
        if method in METHODS
    ]


def test_the_committed_document_is_the_running_apps() -> None:
    current = render()
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.is_file() else ""
    if committed != current:
        diff = difflib.unified_diff(
            committed.splitlines(), current.splitlines(), "docs/openapi.json", "the app", n=1, lineterm=""
        )
        excerpt = "\n".join(list(diff)[:40])
        raise AssertionError(
            f"docs/openapi.json differs from the app's schema: run `make openapi`\n{excerpt}"
        )


def test_the_document_does_not_depend_on_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = render()
    for name, value in {
        "ORCH_ENV": "prod",
        "ORCH_PORT": "9999",
        "ORCH_SEARCH_MAX_TOP_K": "3",
        "ORCH_MAX_UPLOAD_BYTES": "1024",
        "ORCH_CORS_ORIGINS": "https://example.org",
        "ORCH_API_KEYS": "too-short",
    }.items():
        monkeypatch.setenv(name, value)
    assert render() == plain
    assert plain.endswith("}\n")


def test_every_operation_has_a_unique_lower_camel_case_id() -> None:
    ids = _operation_ids(json.loads(render()))
    assert len(ids) > 20
    assert [i for i in ids if not LOWER_CAMEL.match(i)] == []
    assert sorted(i for i in set(ids) if ids.count(i) > 1) == []
    # The names frontends call; they follow the endpoint functions, never a route module's name.
    assert {"uploadDocument", "searchCollections", "listCollections", "getJob", "streamJobEvents"} <= set(ids)
