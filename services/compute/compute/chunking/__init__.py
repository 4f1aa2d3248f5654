"""Chunking strategies: text or a parsed document into chunks sized for the embedding model.

Docling's hybrid chunker (`hybrid`) is imported only when that strategy is asked for."""

from compute.chunking.chunker import Chunker, chunks_json
from compute.chunking.tokens import TokenCounter

__all__ = ["Chunker", "TokenCounter", "chunks_json"]
