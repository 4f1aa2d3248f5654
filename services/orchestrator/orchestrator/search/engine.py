"""Search over collections in three modes, with the query cache in front: `dense` (search.dense), `lexical`
(BM25 over this API process's index, search.lexical_results) and `hybrid`, the default (both, fused by
reciprocal rank over each side's top_k, search.fusion).

Every mode returns only chunks the registry vouches for, applies `filters` through Chroma and marks the
words that match a query term (`highlights`). Unknown collections are NotFound; a search never creates
anything. Lexical and hybrid searches are IndexNotReady (503) while the index catches up.
"""

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orchestrator.catalog import Collection, changes
from orchestrator.clients import Clients
from orchestrator.errors import IndexNotReady
from orchestrator.search.cache import QueryCache
from orchestrator.search.dense import DenseRounds, dense_results, dense_rounds, finish_dense
from orchestrator.search.fusion import Fusion, FusionWeights, fuse
from orchestrator.search.hits import SearchHit
from orchestrator.search.lexical import LexicalFollower, LexicalIndex, highlight_spans, query_terms
from orchestrator.search.lexical_results import first_fetch as lexical_first_fetch
from orchestrator.search.lexical_results import lexical_fetcher, lexical_results
from orchestrator.search.rounds import Round, enough, read_documents
from orchestrator.vectors import check_filter


class SearchMode(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    lexical = "lexical"


@dataclass(frozen=True)
class SearchQuery:
    query: str
    collections: list[str]
    top_k: int = 10
    mode: SearchMode = SearchMode.hybrid
    filters: dict[str, Any] | None = None
    min_score: float | None = None  # a floor on the dense cosine similarity (dense mode only)
    fusion: Fusion = field(default_factory=Fusion)

    def cache_material(self) -> dict[str, Any]:
        """What the answer depends on besides the collections' versions."""
        return {
            "query": self.query,
            "mode": self.mode.value,
            "top_k": self.top_k,
            "filters": self.filters,
            "min_score": self.min_score,
            "fusion": self.fusion.model_dump() if self.mode is SearchMode.hybrid else None,
        }

    @property
    def reads_index(self) -> bool:
        """Whether its answer depends on the lexical index (dense reads the registry and Chroma only)."""
        return self.mode is SearchMode.lexical or (
            self.mode is SearchMode.hybrid and self.fusion.weights.lexical > 0
        )


class SearchEngine:
    def __init__(
        self,
        clients: Clients,
        *,
        index: LexicalIndex | None = None,
        follower: LexicalFollower | None = None,
        cache: QueryCache | None = None,
    ):
        self.clients, self.index, self.follower, self.cache = clients, index, follower, cache
        settings = clients.settings
        # What a request's `fusion` is laid over (ORCH_FUSION_*).
        self.default_fusion = Fusion(
            k=settings.fusion_k,
            weights=FusionWeights(dense=settings.fusion_dense_weight, lexical=settings.fusion_lexical_weight),
        )

    def readiness(self) -> dict[str, Any] | None:
        """The lexical index's part of /readyz: ok once it has caught up with the registry's changes;
        None in a process that holds no index (ORCH_LEXICAL_ENABLED=false)."""
        follower = self.follower
        if follower is None:
            return None
        return {"ok": follower.caught_up, "applied": follower.applied_id}

    async def search(
        self, query: SearchQuery, *, use_cache: bool = True, request_id: str | None = None
    ) -> list[SearchHit]:
        """The top_k chunks over the collections, best first; InvalidFilter (422) before anything is read
        when `filters` is outside the grammar or its limits (vectors.filters)."""
        check_filter(query.filters)
        names = list(dict.fromkeys(query.collections))
        cache = self.cache if self.cache is not None and self.cache.enabled else None
        if cache is None or not use_cache:
            if cache is not None:
                cache.counters.bypassed += 1
            await self._read_your_writes(query)
            return await self._search(query, names, request_id)
        snapshot = await changes.snapshot(self.clients.redis, names)
        key = cache.key(query.cache_material(), names, snapshot.versions)
        cached = await cache.get(key)
        if cached is not None:
            return cached
        await self._read_your_writes(query, snapshot.last_id)
        # Decided before the search runs: the index it is about to read must already hold every change the
        # versions count (one applied later could still be missing from the searcher it reads).
        storable = self._holds_every_change(query, snapshot.last_id)
        results = await self._search(query, names, request_id)
        if storable:
            await cache.put(key, results)
        else:
            cache.counters.not_stored += 1
        return results

    async def _read_your_writes(self, query: SearchQuery, last_id: str | None = None) -> None:
        """Waits (at most ORCH_SEARCH_FRESHNESS_WAIT_S) for this process's index to apply every change
        made before the search began (`last_id`; read now when None), so that a document once `ready` is
        found in every mode by every API process, whichever applied its change first. Past the wait the
        search goes on without it (and its answer is not cached); an index still catching up is
        IndexNotReady anyway, and a search that reads no index never waits."""
        follower = self.follower
        if not query.reads_index or follower is None or not follower.caught_up:
            return
        if last_id is None:
            last_id = await changes.newest_id(self.clients.redis)
        await follower.wait_applied(last_id, self.clients.settings.search_freshness_wait_s)

    def _holds_every_change(self, query: SearchQuery, last_id: str) -> bool:
        """Whether a search starting now reads every change up to `last_id`: the dense side reads the
        registry and Chroma themselves; the lexical index must have applied (committed) `last_id`."""
        if not query.reads_index:
            return True
        follower = self.follower
        return follower is not None and follower.caught_up and not changes.newer(last_id, follower.applied_id)

    async def _search(self, query: SearchQuery, names: list[str], request_id: str | None) -> list[SearchHit]:
        collections = list(
            await asyncio.gather(*(self.clients.registry.get_active_collection(n) for n in names))
        )
        terms = query_terms(query.query)
        if query.mode is SearchMode.dense:
            results = await dense_results(
                self.clients,
                query.query,
                collections,
                want=query.top_k,
                filters=query.filters,
                min_score=query.min_score,
                request_id=request_id,
            )
        elif query.mode is SearchMode.lexical:
            results = await lexical_results(
                self.clients, self._index(), terms, collections, want=query.top_k, filters=query.filters
            )
        else:
            results = await self._hybrid(query, collections, terms, request_id)
        wanted = set(terms)
        for hit in results:
            hit.highlights = highlight_spans(hit.text, wanted)
        return results

    async def _hybrid(
        self, query: SearchQuery, collections: list[Collection], terms: list[str], request_id: str | None
    ) -> list[SearchHit]:
        """Both sides' first rounds concurrently, their documents in one registry read (so one snapshot
        vouches for both), each side widened only if too few passed, then fused."""
        want, weights = query.top_k, query.fusion.weights
        index = self._index() if weights.lexical else None
        lexical_fetch = (
            lexical_fetcher(self.clients, index, terms, collections, query.filters) if index else None
        )
        dense_rounds_, lexical_first = await asyncio.gather(
            dense_rounds(self.clients, query.query, collections, want, query.filters, None, request_id)
            if weights.dense
            else _no_rounds(),
            lexical_fetch(lexical_first_fetch(want)) if lexical_fetch else _no_round(),
        )
        firsts = [r for _, r in dense_rounds_] + ([lexical_first] if lexical_first else [])
        documents = await read_documents(self.clients, firsts)
        dense, lexical = await asyncio.gather(
            finish_dense(self.clients, dense_rounds_, want, documents),
            enough(self.clients, lexical_fetch, want, lexical_first, documents)
            if lexical_fetch and lexical_first
            else _nothing(),
        )
        return fuse(dense, lexical, query.fusion)[:want]

    def _index(self) -> LexicalIndex:
        if self.index is None or self.follower is None or not self.follower.caught_up:
            raise IndexNotReady("the lexical index is catching up with the registry: retry, or search dense")
        return self.index


async def _nothing() -> list[SearchHit]:
    return []


async def _no_rounds() -> DenseRounds:
    return []


async def _no_round() -> Round | None:
    return None
