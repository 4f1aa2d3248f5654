"""A search's `filters`: within 8 levels and 256 operands, in Chroma's grammar, or 422 invalid_filter
before anything reaches compute, Chroma or the lexical index; within them, they select as before."""

import json
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.settings import Settings
from orchestrator.vectors import MAX_FILTER_DEPTH, MAX_FILTER_OPERANDS, InvalidFilter, check_filter
from tests.support import assert_error
from tests.support.api import API, create_collection, ingest, running_app

MODES = ("dense", "lexical", "hybrid")


def nested(depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    """A filter of `depth` levels (the leaf is level 1), each $and adding one, that selects what `leaf`
    selects."""
    where = leaf
    for _ in range(depth - 1):
        where = {"$and": [where, leaf]}
    return where


def wide(operands: int, wanted: str) -> dict[str, Any]:
    """A filter of exactly `operands` operands that selects team == `wanted`."""
    return {"team": {"$in": [wanted] + [f"other-{i}" for i in range(operands - 1)]}}


def test_the_limits_are_exact() -> None:
    assert check_filter(nested(MAX_FILTER_DEPTH, {"team": "a"}))
    assert check_filter(wide(MAX_FILTER_OPERANDS, "a"))
    mixed = {"$or": [{"year": {"$gte": 2020}}, wide(MAX_FILTER_OPERANDS - 2, "a"), {"team": "b"}]}
    assert check_filter(mixed)
    with pytest.raises(InvalidFilter, match="8 levels"):
        check_filter(nested(MAX_FILTER_DEPTH + 1, {"team": "a"}))
    with pytest.raises(InvalidFilter, match="256 values"):
        check_filter(wide(MAX_FILTER_OPERANDS + 1, "a"))
    with pytest.raises(InvalidFilter, match="256 values"):
        check_filter({"$or": [{"team": f"t{i}"} for i in range(MAX_FILTER_OPERANDS + 1)]})
    assert check_filter(None) is None and check_filter({}) is None


@pytest.mark.parametrize(
    "where",
    [
        {"team": "a", "year": 2024},  # two fields in one clause: Chroma wants $and
        {"team": None},
        {"team": ["a"]},
        {"team": {"$in": []}},
        {"team": {"$in": ["a", 1]}},
        {"team": {"$in": "a"}},
        {"year": {"$gt": "2020"}},
        {"year": {"$gt": True}},
        {"year": {"$regex": ".*"}},
        {"year": {"$gt": 1, "$lt": 3}},
        {"year": 2**63},
        {"$and": [{"team": "a"}]},
        {"$and": {"team": "a"}},
        {"$or": [{"team": "a"}, "b"]},
        {"$in": ["a"]},
        {"#document": "x"},
        {"": 1},
    ],
    ids=lambda w: json.dumps(w)[:40],
)
def test_what_chroma_would_refuse_is_invalid_filter(where: dict[str, Any]) -> None:
    with pytest.raises(InvalidFilter):
        check_filter(where)


class Calls:
    """Counts the calls that would carry a filter (or its search) to compute, Chroma or the index."""

    def __init__(self) -> None:
        self.count = 0

    def spy(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def called(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return fn(*args, **kwargs)

        return called


async def test_oversized_filters_are_refused_before_any_call(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(api_settings) as (app, client):
        await create_collection(client, "limits")
        await ingest(
            client, "limits", "a.md", b"# Pumps\n\nHydraulic pump seals wear out.\n", metadata='{"team": "a"}'
        )
        calls = Calls()
        clients = app.state.clients
        for target, name in (
            (clients.vectors, "query"),
            (clients.vectors, "get"),
            (clients.compute, "embed"),
        ):
            monkeypatch.setattr(target, name, calls.spy(getattr(target, name)))
        monkeypatch.setattr(app.state.search.index, "search", calls.spy(app.state.search.index.search))

        huge = {"team": {"$in": list(range(60_000))}}  # about 350 KB: within the body cap
        too_deep = nested(MAX_FILTER_DEPTH + 1, {"team": "a"})
        for mode in MODES:
            for where, limit in (
                (huge, "256 values"),
                (too_deep, "8 levels"),
                ({"team": None}, "filter values"),
            ):
                body = {"query": "pump seals", "collections": ["limits"], "mode": mode, "filters": where}
                response = await client.post(
                    f"{API}/search", json=body, headers={"cache-control": "no-cache"}
                )
                assert limit in assert_error(response, 422, "invalid_filter")["message"], mode
        assert calls.count == 0

        # Far past what JSON parsing follows: refused before the body is read as a request.
        deep_body = (
            '{"query": "x", "collections": ["limits"], "filters": '
            + '{"$and": [' * 900
            + "{}"
            + "]}" * 900
            + "}"
        )
        deep = await client.post(
            f"{API}/search", content=deep_body, headers={"content-type": "application/json"}
        )
        assert_error(deep, 400, "invalid_request")
        assert calls.count == 0


async def test_filters_at_the_limits_select_as_before(api_settings: Settings) -> None:
    async with running_app(api_settings) as (_, client):
        await create_collection(client, "at-limits")
        ids = {}
        for team in ("a", "b"):
            text = f"# Pumps {team}\n\nHydraulic pump seals of team {team} wear out.\n".encode()
            document = await ingest(
                client, "at-limits", f"{team}.md", text, metadata=json.dumps({"team": team})
            )
            ids[team] = document["id"]
        for mode in MODES:
            for where in (nested(MAX_FILTER_DEPTH, {"team": "a"}), wide(MAX_FILTER_OPERANDS, "a")):
                body = {
                    "query": "hydraulic pump seals",
                    "collections": ["at-limits"],
                    "mode": mode,
                    "filters": where,
                }
                response = await client.post(f"{API}/search", json=body)
                assert response.status_code == 200, response.text
                assert {r["document_id"] for r in response.json()["results"]} == {ids["a"]}, mode
