"""POST /api/v1/search: embed the query once per embedding model, query each collection's vectors, and
return only chunks the registry vouches for (document present, not being deleted, searchable at exactly
the vector's generation). An unknown collection is a 404, and nothing is ever created by a search."""

import asyncio

from fastapi import APIRouter, Depends, Request

from orchestrator import chunk_meta
from orchestrator.api import ratelimit
from orchestrator.api.collections import active_collection
from orchestrator.api.deps import ServicesDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import SearchHit, SearchRequest, SearchResponse
from orchestrator.doc_state import searchable
from orchestrator.records import Collection, Document
from orchestrator.services import Services
from orchestrator.vector_records import Hit

router = APIRouter(tags=["search"])

# Chroma also holds vectors search must not return (old generations until their cleanup, a re-ingest not
# yet committed, a deleted document until its job ends): ask for extra, and for more while too few pass.
OVERFETCH = 3
WIDEN = 4
MAX_FETCH = 1_000


async def _embed_queries(
    s: Services, query: str, collections: list[Collection], request_id: str
) -> dict[str | None, list[float]]:
    """The query's embedding under each model the collections use (usually one)."""
    models = sorted({c.embedding_model for c in collections}, key=lambda m: m or "")
    responses = await asyncio.gather(
        *(s.compute.embed([query], kind="query", model=m, request_id=request_id) for m in models)
    )
    return {m: r.embeddings[0] for m, r in zip(models, responses, strict=True)}


def _vouched(collection: Collection, hit: Hit, documents: dict[str, Document | None]) -> SearchHit | None:
    """The hit as a result, if the registry vouches for it: its document is in this collection and
    searchable at exactly the hit's generation."""
    meta = chunk_meta.decode(hit.metadata)
    document = documents.get(str(meta.get("document_id", "")))
    if document is None or document.collection != collection.name:
        return None
    if not searchable(document, int(meta.get("generation", -1))):
        return None
    return SearchHit(
        chunk_id=hit.id,
        document_id=document.id,
        collection=collection.name,
        filename=document.filename,
        text=hit.text or "",
        score=hit.score,
        heading_path=meta["heading_path"],
        pages=meta["pages"],
        metadata=document.metadata,
    )


async def _collection_results(
    s: Services, collection: Collection, vector: list[float], body: SearchRequest
) -> list[SearchHit]:
    """Up to top_k results from one collection, best first. While too few nearest vectors pass the
    registry's check, asks Chroma for more (x4 each time, at most MAX_FETCH), unless it has no more to
    give or the nearest ones left already score under min_score."""
    fetch = min(body.top_k * OVERFETCH + 10, MAX_FETCH)
    while True:
        hits = await s.vectors.query(
            collection.chroma_name or collection.name, vector, top_k=fetch, where=body.filters
        )
        documents = await s.registry.get_documents(
            sorted({str((h.metadata or {}).get("document_id", "")) for h in hits})
        )
        results = [
            r
            for r in (_vouched(collection, h, documents) for h in hits)
            if r is not None and (body.min_score is None or r.score >= body.min_score)
        ]
        exhausted = len(hits) < fetch or fetch >= MAX_FETCH
        below_floor = body.min_score is not None and bool(hits) and hits[-1].score < body.min_score
        if len(results) >= body.top_k or exhausted or below_floor:
            return results[: body.top_k]
        fetch = min(fetch * WIDEN, MAX_FETCH)


@router.post("/search", response_model=SearchResponse, dependencies=[Depends(ratelimit.searches)])
async def search(body: SearchRequest, s: ServicesDep, request: Request) -> SearchResponse:
    if body.top_k > s.settings.search_max_top_k:
        raise ApiError(422, "invalid_request", f"top_k is at most {s.settings.search_max_top_k}")
    names = list(dict.fromkeys(body.collections))
    collections = [await active_collection(s.registry, name) for name in names]
    vectors_by_model = await _embed_queries(s, body.query, collections, request.state.request_id)
    per_collection = await asyncio.gather(
        *(_collection_results(s, c, vectors_by_model[c.embedding_model], body) for c in collections)
    )
    results = sorted((r for found in per_collection for r in found), key=lambda r: r.score, reverse=True)
    return SearchResponse(query=body.query, results=results[: body.top_k])
