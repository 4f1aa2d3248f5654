"""The dense side: embed the query once per embedding model, query each collection's vectors, and keep
only chunks the registry vouches for (search.hits), widening while too few pass (search.rounds)."""

import asyncio
from typing import Any

from orchestrator.catalog import Collection
from orchestrator.clients import Clients
from orchestrator.search.hits import Scores, SearchHit, vouched_document
from orchestrator.search.rounds import MAX_FETCH, Documents, Fetch, Round, enough, read_documents
from orchestrator.vectors import ChunkMeta, Hit

OVERFETCH = 3  # Chroma keeps old generations until their cleanup: ask for 3x (+10) at first

DenseRounds = list[tuple[Fetch, Round]]  # per collection: how to ask again, and the first answer


def first_fetch(want: int) -> int:
    return min(want * OVERFETCH + 10, MAX_FETCH)


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
    rounds = await dense_rounds(clients, query, collections, want, filters, min_score, request_id)
    documents = await read_documents(clients, [r for _, r in rounds])
    return await finish_dense(clients, rounds, want, documents)


async def dense_rounds(
    clients: Clients,
    query: str,
    collections: list[Collection],
    want: int,
    filters: dict[str, Any] | None,
    min_score: float | None,
    request_id: str | None,
) -> DenseRounds:
    """The first round of every collection (its documents not read yet)."""
    vectors_by_model = await _embed_query(clients, query, collections, request_id)
    fetchers = [
        _fetcher(clients, c, vectors_by_model[c.embedding_model], filters, min_score) for c in collections
    ]
    firsts = await asyncio.gather(*(fetch(first_fetch(want)) for fetch in fetchers))
    return list(zip(fetchers, firsts, strict=True))


async def finish_dense(
    clients: Clients, rounds: DenseRounds, want: int, documents: Documents
) -> list[SearchHit]:
    """The best `want` over the collections, from their first rounds (widened where too few passed)."""
    per_collection = await asyncio.gather(
        *(enough(clients, fetch, want, first, documents) for fetch, first in rounds)
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


def _fetcher(
    clients: Clients,
    collection: Collection,
    vector: list[float],
    filters: dict[str, Any] | None,
    min_score: float | None,
) -> Fetch:
    """Asks the collection's Chroma collection for its `n` nearest vectors. A round is done when Chroma
    had no more to give or the nearest ones left already score under min_score."""

    async def fetch(n: int) -> Round:
        hits = await clients.vectors.query(collection.vector_name, vector, top_k=n, where=filters)
        metas = [ChunkMeta.read(h.metadata) for h in hits]
        below_floor = min_score is not None and bool(hits) and hits[-1].score < min_score

        async def vouch(documents: Documents) -> list[SearchHit]:
            found = (_as_result(collection, h, m, documents) for h, m in zip(hits, metas, strict=True))
            return [r for r in found if r is not None and (min_score is None or r.score >= min_score)]

        return Round(n, [m.document_id for m in metas], len(hits) < n or below_floor, vouch)

    return fetch


def _as_result(collection: Collection, hit: Hit, meta: ChunkMeta, documents: Documents) -> SearchHit | None:
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
