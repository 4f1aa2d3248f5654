"""Document metadata: a local, deterministic extractor and an optional LLM mode with fallback."""

from compute.metadata import llm, local

__all__ = ["llm", "local"]
