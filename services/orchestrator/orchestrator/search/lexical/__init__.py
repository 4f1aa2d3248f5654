"""The lexical (BM25) side of search: each API process's own tantivy index on local disk, derived from
the chunk texts in Chroma and kept current by following the registry's change stream.

Wiring (the API's lifespan): `slot = claim_slot(Path(settings.lexical_dir))`, `index =
LexicalIndex.open(slot.path)`, `follower = LexicalFollower(clients, index)`, `await follower.start()`,
register `LexicalCollector(follower)`; at shutdown `await follower.stop()`, `index.close()`,
`slot.release()`.
"""

from orchestrator.search.lexical.analyzer import ANALYZER_NAME, highlight_spans, query_terms
from orchestrator.search.lexical.follower import FollowerCounters, LexicalFollower
from orchestrator.search.lexical.index import IndexedChunk, IndexStats, LexicalHit, LexicalIndex
from orchestrator.search.lexical.metrics import LexicalCollector
from orchestrator.search.lexical.slots import Slot, claim_slot

__all__ = [
    "ANALYZER_NAME",
    "FollowerCounters",
    "IndexStats",
    "IndexedChunk",
    "LexicalCollector",
    "LexicalFollower",
    "LexicalHit",
    "LexicalIndex",
    "Slot",
    "claim_slot",
    "highlight_spans",
    "query_terms",
]
