"""How both sides of search get enough vouched results: ask an index for a few more candidates than
wanted, keep those the registry vouches for, and ask again for more (x WIDEN, at most MAX_FETCH) while too
few pass and more could. Chroma holds vectors search must not return (old generations until their
cleanup, a re-ingest not yet committed, a deleted document until its job ends), and so, briefly, does the
lexical index. A round's registry read can be shared: hybrid search reads the documents of both sides'
first rounds at once, so the two sides are vouched for by one snapshot of the registry."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from orchestrator.catalog import Document
from orchestrator.clients import Clients
from orchestrator.search.hits import SearchHit

WIDEN = 4
MAX_FETCH = 1_000

Documents = dict[str, Document | None]


@dataclass(frozen=True)
class Round:
    """One ask of an index: the candidates' documents, and how to vouch for them once those are read."""

    fetched: int  # how many candidates were asked for
    document_ids: Sequence[str]
    done: bool  # asking for more cannot give more (the index had no more, or the rest is under a floor)
    vouch: Callable[[Documents], Awaitable[list[SearchHit]]]


Fetch = Callable[[int], Awaitable[Round]]


async def read_documents(clients: Clients, rounds: Sequence[Round]) -> Documents:
    """The documents of every round's candidates, in one registry read."""
    ids = list(dict.fromkeys(i for r in rounds for i in r.document_ids))
    return await clients.registry.get_documents(ids) if ids else {}


async def enough(
    clients: Clients, fetch: Fetch, want: int, first: Round, documents: Documents
) -> list[SearchHit]:
    """Up to `want` vouched results, best first, from the `first` round (its documents already read),
    widening while too few pass."""
    current, known = first, documents
    while True:
        results = await current.vouch(known)
        if len(results) >= want or current.done or current.fetched >= MAX_FETCH:
            return results[:want]
        current = await fetch(min(current.fetched * WIDEN, MAX_FETCH))
        known = await read_documents(clients, [current])
