"""The catalog: collections and documents in Redis, their state machines, the generations the ingestion
saga commits, and the originals in the blob store. It knows nothing of jobs or vectors."""

from orchestrator.catalog import changes, generations
from orchestrator.catalog.blobs import STAGED_ABANDONED_S, BlobMissing, BlobStore, StagedBlob
from orchestrator.catalog.generations import Superseded
from orchestrator.catalog.model import (
    IN_FLIGHT,
    Collection,
    CollectionStatus,
    Document,
    DocumentError,
    DocumentStatus,
    merge_metadata,
    searchable,
)
from orchestrator.catalog.registry import CollectionStats, Registry, TooManyCollections

__all__ = [
    "IN_FLIGHT",
    "STAGED_ABANDONED_S",
    "BlobMissing",
    "BlobStore",
    "Collection",
    "CollectionStats",
    "CollectionStatus",
    "Document",
    "DocumentError",
    "DocumentStatus",
    "Registry",
    "StagedBlob",
    "Superseded",
    "TooManyCollections",
    "changes",
    "generations",
    "merge_metadata",
    "searchable",
]
