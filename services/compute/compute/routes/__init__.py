"""Thin HTTP routes: validate, call the domain package, shape the response. No route imports another."""

from compute.routes import chunking, embedding, health, metadata, parsing

# In the order the app includes them.
ROUTERS = [parsing.router, chunking.router, embedding.router, metadata.router, health.router]

__all__ = ["ROUTERS"]
