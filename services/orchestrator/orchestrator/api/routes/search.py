"""POST /api/v1/search (orchestrator.search does the work)."""

from fastapi import APIRouter, Depends, Request

from orchestrator.api import ratelimit
from orchestrator.api.deps import ClientsDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import SearchRequest, SearchResponse
from orchestrator.search import search as run_search

router = APIRouter(tags=["search"])


@router.post("/search", response_model=SearchResponse, dependencies=[Depends(ratelimit.searches)])
async def search(body: SearchRequest, clients: ClientsDep, request: Request) -> SearchResponse:
    """The top_k chunks over the collections, best first; an unknown collection is a 404."""
    if body.top_k > clients.settings.search_max_top_k:
        raise ApiError(422, "invalid_request", f"top_k is at most {clients.settings.search_max_top_k}")
    results = await run_search(
        clients,
        body.query,
        body.collections,
        top_k=body.top_k,
        filters=body.filters,
        min_score=body.min_score,
        request_id=request.state.request_id,
    )
    return SearchResponse(query=body.query, results=results)
