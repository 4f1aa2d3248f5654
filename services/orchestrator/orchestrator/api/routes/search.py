"""POST /api/v1/search (orchestrator.search does the work)."""

from fastapi import APIRouter, Depends, Request

from orchestrator.api import ratelimit
from orchestrator.api.deps import ClientsDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import FusionRequest, SearchRequest, SearchResponse
from orchestrator.search import Fusion, FusionWeights, SearchEngine, SearchMode, SearchQuery
from orchestrator.settings import Settings

router = APIRouter(tags=["search"])


def _fusion(settings: Settings, asked: FusionRequest | None) -> Fusion:
    """The server's defaults, with what the request set over them."""
    weights = asked.weights if asked is not None else None
    return Fusion(
        k=asked.k if asked is not None and asked.k is not None else settings.fusion_k,
        weights=FusionWeights(
            dense=weights.dense if weights and weights.dense is not None else settings.fusion_dense_weight,
            lexical=(
                weights.lexical if weights and weights.lexical is not None else settings.fusion_lexical_weight
            ),
        ),
    )


def _no_cache(request: Request) -> bool:
    directives = request.headers.get("cache-control", "").lower().replace(" ", "").split(",")
    return "no-cache" in directives or "no-store" in directives


@router.post("/search", response_model=SearchResponse, dependencies=[Depends(ratelimit.searches)])
async def search(body: SearchRequest, clients: ClientsDep, request: Request) -> SearchResponse:
    """The top_k chunks over the collections, best first; an unknown collection is a 404. Send
    `Cache-Control: no-cache` to skip the query cache."""
    settings = clients.settings
    if body.top_k > settings.search_max_top_k:
        raise ApiError(422, "invalid_request", f"top_k is at most {settings.search_max_top_k}")
    if body.min_score is not None and body.mode is not SearchMode.dense:
        raise ApiError(422, "invalid_request", "min_score is a cosine floor: it applies to mode dense only")
    fusion = _fusion(settings, body.fusion)
    if fusion.weights.dense == 0 and fusion.weights.lexical == 0:
        raise ApiError(422, "invalid_request", "fusion weights cannot both be 0")
    engine: SearchEngine = request.app.state.search
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
