"""The lexical side: BM25 over this process's lexical index, kept to the chunks the registry vouches for
(search.hits) and, with `filters`, to those whose vectors match them in Chroma: the very `where` the dense
side passes to its query, evaluated by the same engine, so filters mean the same thing in every mode."""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from orchestrator.catalog import Collection
from orchestrator.clients import Clients
from orchestrator.search.dense import MAX_FETCH, OVERFETCH, WIDEN
from orchestrator.search.hits import Scores, SearchHit, vouched_document
from orchestrator.search.lexical import LexicalHit, LexicalIndex


async def lexical_results(
    clients: Clients,
    index: LexicalIndex,
    terms: Sequence[str],
    collections: list[Collection],
    *,
    want: int,
    filters: dict[str, Any] | None,
) -> list[SearchHit]:
    """Up to `want` vouched chunks over all the collections, best (highest BM25) first. Like the dense
    side, asks the index for more while too few of the best pass the checks."""
    if not terms:
        return []
    by_name = {c.name: c for c in collections}
    fetch = min(want * OVERFETCH + 10, MAX_FETCH)
    while True:
        hits = await asyncio.to_thread(index.search, list(by_name), terms, fetch)
        documents = await clients.registry.get_documents(list(dict.fromkeys(h.document_id for h in hits)))
        vouched = [
            (h, d)
            for h in hits
            if (d := vouched_document(by_name[h.collection], h.document_id, h.generation, documents))
        ]
        if filters:
            passing = await _matching_filters(clients, by_name, [h for h, _ in vouched], filters)
            vouched = [(h, d) for h, d in vouched if h.chunk_id in passing]
        results = [_as_result(h, d.filename, d.metadata) for h, d in vouched]
        if len(results) >= want or len(hits) < fetch or fetch >= MAX_FETCH:
            return results[:want]
        fetch = min(fetch * WIDEN, MAX_FETCH)


async def _matching_filters(
    clients: Clients, by_name: dict[str, Collection], hits: list[LexicalHit], filters: dict[str, Any]
) -> set[str]:
    """The chunk ids among `hits` whose vectors match `filters`, asked of Chroma per collection."""
    ids: dict[str, list[str]] = defaultdict(list)
    for hit in hits:
        ids[hit.collection].append(hit.chunk_id)
    found = await asyncio.gather(
        *(
            clients.vectors.get(by_name[name].vector_name, ids=chunk_ids, where=filters)
            for name, chunk_ids in ids.items()
        )
    )
    return {record.id for records in found for record in records}


def _as_result(hit: LexicalHit, filename: str, metadata: dict[str, Any]) -> SearchHit:
    return SearchHit(
        chunk_id=hit.chunk_id,
        document_id=hit.document_id,
        collection=hit.collection,
        filename=filename,
        text=hit.text,
        score=hit.score,
        scores=Scores(lexical=hit.score),
        heading_path=list(hit.heading_path),
        pages=list(hit.pages),
        metadata=metadata,
    )
