"""The read side of what ingestion made searchable: search over collections, and a document's chunks.
Every chunk it returns is checked against the registry first."""

from orchestrator.search.chunks import ChunkOut, ChunksPage, document_chunks
from orchestrator.search.dense import SearchHit, search

__all__ = ["ChunkOut", "ChunksPage", "SearchHit", "document_chunks", "search"]
