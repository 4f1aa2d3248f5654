"""Compute service: stateless ML over HTTP (parse, chunk, embed, extract metadata)."""
