"""The dense side: embed the query once per embedding model, query each collection's vectors, and keep
only chunks the registry vouches for (search.hits)."""

import asyncio
from typing import Any

from orchestrator.catalog import Collection
from orchestrator.clients import Clients
from orchestrator.search.hits import Scores, SearchHit, vouched_document
from orchestrator.vectors import ChunkMeta, Hit, document_ids

# Chroma also holds vectors search must not return (old generations until their cleanup, a re-ingest not
# yet committed, a deleted document until its job ends): ask for extra, and for more while too few pass.
OVERFETCH = 3
WIDEN = 4
MAX_FETCH = 1_000


async def dense_results(
    clients: Clients,
    query: str,
    collections: list[Collection],
    *,
    want: int,
    filters: dict[str, Any] | None,
    min_score: float | None,
    request_id: str | None,
) -> list[SearchHit]:
    """Up to `want` vouched chunks over all the collections, best (highest cosine) first."""
    vectors_by_model = await _embed_query(clients, query, collections, request_id)
    per_collection = await asyncio.gather(
        *(
            _collection_results(clients, c, vectors_by_model[c.embedding_model], want, filters, min_score)
            for c in collections
        )
    )
    results = sorted((r for found in per_collection for r in found), key=lambda r: r.score, reverse=True)
    return results[:want]


async def _embed_query(
    clients: Clients, query: str, collections: list[Collection], request_id: str | None
) -> dict[str | None, list[float]]:
    """The query's embedding under each model the collections use (usually one)."""
    models = sorted({c.embedding_model for c in collections}, key=lambda m: m or "")
    responses = await asyncio.gather(
        *(clients.compute.embed([query], kind="query", model=m, request_id=request_id) for m in models)
    )
    return {m: r.embeddings[0] for m, r in zip(models, responses, strict=True)}


def _as_result(collection: Collection, hit: Hit, documents: dict) -> SearchHit | None:
    meta = ChunkMeta.read(hit.metadata)
    document = vouched_document(collection, meta.document_id, meta.generation, documents)
    if document is None:
        return None
    return SearchHit(
        chunk_id=hit.id,
        document_id=document.id,
        collection=collection.name,
        filename=document.filename,
        text=hit.text or "",
        score=hit.score,
        scores=Scores(dense=hit.score),
        heading_path=meta.heading_path,
        pages=meta.pages,
        metadata=document.metadata,
    )


async def _collection_results(
    clients: Clients,
    collection: Collection,
    vector: list[float],
    want: int,
    filters: dict[str, Any] | None,
    min_score: float | None,
) -> list[SearchHit]:
    """Up to `want` results from one collection, best first. While too few nearest vectors pass the
    registry's check, asks Chroma for more (x4 each time, at most MAX_FETCH), unless it has no more to
    give or the nearest ones left already score under min_score."""
    fetch = min(want * OVERFETCH + 10, MAX_FETCH)
    while True:
        hits = await clients.vectors.query(collection.vector_name, vector, top_k=fetch, where=filters)
        documents = await clients.registry.get_documents(document_ids([h.metadata for h in hits]))
        results = [
            r
            for r in (_as_result(collection, h, documents) for h in hits)
            if r is not None and (min_score is None or r.score >= min_score)
        ]
        exhausted = len(hits) < fetch or fetch >= MAX_FETCH
        below_floor = min_score is not None and bool(hits) and hits[-1].score < min_score
        if len(results) >= want or exhausted or below_floor:
            return results[:want]
        fetch = min(fetch * WIDEN, MAX_FETCH)
