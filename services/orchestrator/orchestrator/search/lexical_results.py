"""The lexical side: BM25 over this process's lexical index, kept to the chunks the registry vouches for
(search.hits) and, with `filters`, to those whose vectors match them in Chroma: the very `where` the dense
side passes to its query, evaluated by the same engine, so filters mean the same thing in every mode."""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from orchestrator.catalog import Collection
from orchestrator.clients import Clients
from orchestrator.search.hits import Scores, SearchHit, vouched_document
from orchestrator.search.lexical import LexicalHit, LexicalIndex
from orchestrator.search.rounds import MAX_FETCH, Documents, Fetch, Round, enough, read_documents

# Unlike Chroma, the index holds one generation per document (a commit replaces the document's entries),
# so only entries of a change not applied yet fail the registry's check: a small margin suffices.
MARGIN = 10


def first_fetch(want: int) -> int:
    return min(want + MARGIN, MAX_FETCH)


async def lexical_results(
    clients: Clients,
    index: LexicalIndex,
    terms: Sequence[str],
    collections: list[Collection],
    *,
    want: int,
    filters: dict[str, Any] | None,
) -> list[SearchHit]:
    """Up to `want` vouched chunks over all the collections, best (highest BM25) first."""
    fetch = lexical_fetcher(clients, index, terms, collections, filters)
    first = await fetch(first_fetch(want))
    return await enough(clients, fetch, want, first, await read_documents(clients, [first]))


def lexical_fetcher(
    clients: Clients,
    index: LexicalIndex,
    terms: Sequence[str],
    collections: list[Collection],
    filters: dict[str, Any] | None,
) -> Fetch:
    """Asks the index for its `n` best chunks over the collections (no terms: none)."""
    by_name = {c.name: c for c in collections}

    async def fetch(n: int) -> Round:
        hits = await asyncio.to_thread(index.search, list(by_name), terms, n) if terms else []

        async def vouch(documents: Documents) -> list[SearchHit]:
            vouched = [
                (h, d)
                for h in hits
                if (d := vouched_document(by_name[h.collection], h.document_id, h.generation, documents))
            ]
            if filters and vouched:
                passing = await _matching_filters(clients, by_name, [h for h, _ in vouched], filters)
                vouched = [(h, d) for h, d in vouched if h.chunk_id in passing]
            elif filters:
                await _check_filters(clients, collections, filters)
            return [_as_result(h, d.filename, d.metadata) for h, d in vouched]

        return Round(n, [h.document_id for h in hits], len(hits) < n, vouch)

    return fetch


async def _check_filters(
    clients: Clients, collections: list[Collection], filters: dict[str, Any] | None
) -> None:
    """Has Chroma read `filters` even when no chunk was there to test, so that a filter it refuses is the
    same error (422) in every mode, not an empty answer in this one."""
    if filters and collections:
        await clients.vectors.get(collections[0].vector_name, where=filters, limit=1)


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
