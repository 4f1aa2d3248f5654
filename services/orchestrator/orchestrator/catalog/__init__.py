"""The catalog: collections and documents in Redis, their state machines, the generations the ingestion
saga commits, and the original bytes kept for re-ingest. It knows nothing of jobs or vectors."""

from orchestrator.catalog import generations
from orchestrator.catalog.blobs import BlobMissing, BlobStore
from orchestrator.catalog.generations import Superseded, searchable
from orchestrator.catalog.model import (
    IN_FLIGHT,
    Collection,
    CollectionStatus,
    Document,
    DocumentError,
    DocumentStatus,
    merge_metadata,
)
from orchestrator.catalog.registry import CollectionStats, Registry

__all__ = [
    "IN_FLIGHT",
    "BlobMissing",
    "BlobStore",
    "Collection",
    "CollectionStats",
    "CollectionStatus",
    "Document",
    "DocumentError",
    "DocumentStatus",
    "Registry",
    "Superseded",
    "generations",
    "merge_metadata",
    "searchable",
]
