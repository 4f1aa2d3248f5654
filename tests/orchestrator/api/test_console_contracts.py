"""The console's copies of the API's enumerations and limits (services/orchestrator/console/src/contracts.ts)
equal the Python definitions they mirror: a new status or strategy added here and not there fails this."""

import json
import re

import pytest

from contracts import ChunkStrategy
from orchestrator.api.console import BUILT_DIR
from orchestrator.api.schemas import SearchRequest
from orchestrator.catalog import DocumentStatus
from orchestrator.ingest.uploads import OnDuplicate
from orchestrator.jobs.model import FINAL_JOB_STATUSES
from orchestrator.search import SearchMode

CONTRACTS = BUILT_DIR.parent / "src" / "contracts.ts"


def _console_values() -> dict[str, object]:
    """Each `export const NAME = [...]`, `new Set([...])` or number of contracts.ts."""
    values: dict[str, object] = {}
    for name, body in re.findall(r"export const (\w+) = (.+?);\n", CONTRACTS.read_text(), re.DOTALL):
        literal = re.sub(r"^new Set\((.*)\)$", r"\1", body.removesuffix(" as const").strip(), flags=re.DOTALL)
        values[name] = json.loads(literal)
    return values


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DOCUMENT_STATUSES", [s.value for s in DocumentStatus]),
        ("SEARCH_MODES", [m.value for m in SearchMode]),
        ("CHUNK_STRATEGIES", sorted(s.value for s in ChunkStrategy)),
        ("ON_DUPLICATE", [p.value for p in OnDuplicate]),
        ("FINAL_JOB_STATUSES", sorted(s.value for s in FINAL_JOB_STATUSES)),
    ],
)
def test_the_console_offers_what_the_api_accepts(name: str, expected: list[str]) -> None:
    got = _console_values()[name]
    assert isinstance(got, list)
    unordered = name in {"CHUNK_STRATEGIES", "FINAL_JOB_STATUSES"}
    assert (sorted(got) if unordered else got) == expected


def test_the_console_knows_the_search_collections_limit() -> None:
    limit = next(
        m.max_length for m in SearchRequest.model_fields["collections"].metadata if hasattr(m, "max_length")
    )
    assert _console_values()["MAX_SEARCH_COLLECTIONS"] == limit
