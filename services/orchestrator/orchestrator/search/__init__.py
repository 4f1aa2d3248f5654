"""The read side of what ingestion made searchable: search over collections in three modes (dense, lexical,
hybrid) with a query cache, each API process's lexical index, and a document's chunks. Every chunk it
returns is checked against the registry first."""

from orchestrator.search.cache import CacheCollector, QueryCache
from orchestrator.search.chunks import ChunkOut, ChunksPage, document_chunks
from orchestrator.search.engine import SearchEngine, SearchMode, SearchQuery
from orchestrator.search.fusion import Fusion, FusionWeights
from orchestrator.search.hits import Scores, SearchHit

__all__ = [
    "CacheCollector",
    "ChunkOut",
    "ChunksPage",
    "Fusion",
    "FusionWeights",
    "QueryCache",
    "Scores",
    "SearchEngine",
    "SearchHit",
    "SearchMode",
    "SearchQuery",
    "document_chunks",
]
