"""Dense search: embed the query once per embedding model, query each collection's vectors, and return
only chunks the registry vouches for (document present, not being deleted, searchable at exactly the
vector's generation). An unknown collection is NotFound, and nothing is ever created by a search."""

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from orchestrator.catalog import Collection, Document, searchable
from orchestrator.clients import Clients
from orchestrator.vectors import ChunkMeta, Hit, document_ids

# Chroma also holds vectors search must not return (old generations until their cleanup, a re-ingest not
# yet committed, a deleted document until its job ends): ask for extra, and for more while too few pass.
OVERFETCH = 3
WIDEN = 4
MAX_FETCH = 1_000


class SearchHit(BaseModel):
    chunk_id: str
    document_id: str
    collection: str
    filename: str
    text: str
    score: float  # cosine similarity
    heading_path: list[str]
    pages: list[int]
    metadata: dict[str, Any] = Field(default_factory=dict)  # the document's user metadata


async def search(
    clients: Clients,
    query: str,
    collection_names: list[str],
    *,
    top_k: int,
    filters: dict[str, Any] | None = None,
    min_score: float | None = None,
    request_id: str | None = None,
) -> list[SearchHit]:
    """The top_k chunks over all the collections, best first."""
    names = list(dict.fromkeys(collection_names))
    collections = [await clients.registry.get_active_collection(name) for name in names]
    vectors_by_model = await _embed_query(clients, query, collections, request_id)
    per_collection = await asyncio.gather(
        *(
            _collection_results(clients, c, vectors_by_model[c.embedding_model], top_k, filters, min_score)
            for c in collections
        )
    )
    results = sorted((r for found in per_collection for r in found), key=lambda r: r.score, reverse=True)
    return results[:top_k]


async def _embed_query(
    clients: Clients, query: str, collections: list[Collection], request_id: str | None
) -> dict[str | None, list[float]]:
    """The query's embedding under each model the collections use (usually one)."""
    models = sorted({c.embedding_model for c in collections}, key=lambda m: m or "")
    responses = await asyncio.gather(
        *(clients.compute.embed([query], kind="query", model=m, request_id=request_id) for m in models)
    )
    return {m: r.embeddings[0] for m, r in zip(models, responses, strict=True)}


def _vouched(collection: Collection, hit: Hit, documents: dict[str, Document | None]) -> SearchHit | None:
    """The hit as a result, if the registry vouches for it: its document is in this collection and
    searchable at exactly the hit's generation."""
    meta = ChunkMeta.read(hit.metadata)
    document = documents.get(meta.document_id)
    if document is None or document.collection != collection.name:
        return None
    if not searchable(document, meta.generation):
        return None
    return SearchHit(
        chunk_id=hit.id,
        document_id=document.id,
        collection=collection.name,
        filename=document.filename,
        text=hit.text or "",
        score=hit.score,
        heading_path=meta.heading_path,
        pages=meta.pages,
        metadata=document.metadata,
    )


async def _collection_results(
    clients: Clients,
    collection: Collection,
    vector: list[float],
    top_k: int,
    filters: dict[str, Any] | None,
    min_score: float | None,
) -> list[SearchHit]:
    """Up to top_k results from one collection, best first. While too few nearest vectors pass the
    registry's check, asks Chroma for more (x4 each time, at most MAX_FETCH), unless it has no more to
    give or the nearest ones left already score under min_score."""
    fetch = min(top_k * OVERFETCH + 10, MAX_FETCH)
    while True:
        hits = await clients.vectors.query(collection.vector_name, vector, top_k=fetch, where=filters)
        documents = await clients.registry.get_documents(document_ids([h.metadata for h in hits]))
        results = [
            r
            for r in (_vouched(collection, h, documents) for h in hits)
            if r is not None and (min_score is None or r.score >= min_score)
        ]
        exhausted = len(hits) < fetch or fetch >= MAX_FETCH
        below_floor = min_score is not None and bool(hits) and hits[-1].score < min_score
        if len(results) >= top_k or exhausted or below_floor:
            return results[:top_k]
        fetch = min(fetch * WIDEN, MAX_FETCH)
