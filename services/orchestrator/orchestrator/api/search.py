"""POST /api/v1/search: embed the query once per embedding model, query each collection's vectors, and
return only chunks the registry vouches for (document present, not being deleted, searchable at exactly
the vector's generation). An unknown collection is a 404, and nothing is ever created by a search."""

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request

from orchestrator import chunk_meta, keys
from orchestrator.api import ratelimit
from orchestrator.api.collections import active_collection
from orchestrator.api.deps import ServicesDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import SearchHit, SearchRequest, SearchResponse
from orchestrator.doc_state import searchable
from orchestrator.records import Collection, Document
from orchestrator.services import Services

router = APIRouter(tags=["search"])

# Chroma returns stale vectors too (old generations until their cleanup): ask for some extra.
OVERFETCH = 3
MAX_FETCH = 1_000


async def _documents(s: Services, ids: Sequence[str]) -> dict[str, Document | None]:
    async with s.redis.pipeline(transaction=False) as pipe:
        for document_id in ids:
            pipe.hgetall(keys.document(document_id))
        rows = await pipe.execute()
    return {i: Document.from_redis(raw) if raw else None for i, raw in zip(ids, rows, strict=True)}


async def _embed_queries(
    s: Services, query: str, collections: list[Collection], request_id: str
) -> dict[str | None, list[float]]:
    """The query's embedding under each model the collections use (usually one)."""
    models = sorted({c.embedding_model for c in collections}, key=lambda m: m or "")
    responses = await asyncio.gather(
        *(s.compute.embed([query], kind="query", model=m, request_id=request_id) for m in models)
    )
    return {m: r.embeddings[0] for m, r in zip(models, responses, strict=True)}


@router.post("/search", response_model=SearchResponse, dependencies=[Depends(ratelimit.searches)])
async def search(body: SearchRequest, s: ServicesDep, request: Request) -> SearchResponse:
    if body.top_k > s.settings.search_max_top_k:
        raise ApiError(422, "invalid_request", f"top_k is at most {s.settings.search_max_top_k}")
    names = list(dict.fromkeys(body.collections))
    collections = [await active_collection(s.registry, name) for name in names]
    vectors_by_model = await _embed_queries(s, body.query, collections, request.state.request_id)
    fetch = min(body.top_k * OVERFETCH + 10, MAX_FETCH)
    answers = await asyncio.gather(
        *(
            s.vectors.query(
                c.chroma_name or c.name, vectors_by_model[c.embedding_model], top_k=fetch, where=body.filters
            )
            for c in collections
        )
    )
    candidates = [(c, hit) for c, hits in zip(collections, answers, strict=True) for hit in hits]
    documents = await _documents(
        s, sorted({str((h.metadata or {}).get("document_id", "")) for _, h in candidates})
    )
    results: list[SearchHit] = []
    for collection, hit in candidates:
        meta = chunk_meta.decode(hit.metadata)
        document = documents.get(str(meta.get("document_id", "")))
        if document is None or document.collection != collection.name:
            continue
        if not searchable(document, int(meta.get("generation", -1))):
            continue
        if body.min_score is not None and hit.score < body.min_score:
            continue
        results.append(
            SearchHit(
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
        )
    results.sort(key=lambda r: r.score, reverse=True)
    return SearchResponse(query=body.query, results=results[: body.top_k])
