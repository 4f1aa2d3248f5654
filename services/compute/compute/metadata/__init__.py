"""Document metadata: a local, deterministic extractor and an optional LLM mode with fallback."""
