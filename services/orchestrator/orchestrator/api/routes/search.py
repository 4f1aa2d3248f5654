"""POST /api/v1/search (orchestrator.search does the work)."""

from fastapi import APIRouter, Depends, Request

import orchestrator.api.ratelimit as ratelimit
from orchestrator.api.deps import ClientsDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import FusionRequest, SearchRequest, SearchResponse
from orchestrator.search import SearchEngine, SearchQuery
from orchestrator.search.fusion import resolve

router = APIRouter(tags=["search"])


def _no_cache(request: Request) -> bool:
    directives = request.headers.get("cache-control", "").lower().replace(" ", "").split(",")
    return "no-cache" in directives or "no-store" in directives


@router.post("/search", response_model=SearchResponse, dependencies=[Depends(ratelimit.searches)])
async def search_collections(body: SearchRequest, clients: ClientsDep, request: Request) -> SearchResponse:
    """The top_k chunks over the collections, best first; an unknown collection is a 404. Send
    `Cache-Control: no-cache` to skip the query cache."""
    if body.top_k > clients.settings.search_max_top_k:
        raise ApiError(422, "invalid_request", f"top_k is at most {clients.settings.search_max_top_k}")
    engine: SearchEngine = request.app.state.search
    asked = body.fusion or FusionRequest()
    fusion = resolve(
        engine.default_fusion, k=asked.k, dense=asked.weights.dense, lexical=asked.weights.lexical
    )
    query = SearchQuery(
        query=body.query,
        collections=body.collections,
        top_k=body.top_k,
        mode=body.mode,
        filters=body.filters,
        min_score=body.min_score,
        fusion=fusion,
    )
    results = await engine.search(
        query, use_cache=not _no_cache(request), request_id=request.state.request_id
    )
    return SearchResponse(query=body.query, mode=body.mode, results=results)
