"""Chunking strategies: text or a parsed document into chunks sized for the embedding model."""
