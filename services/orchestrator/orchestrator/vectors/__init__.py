"""The vector store: one Chroma collection per orchestrator collection, and the one codec of what each
chunk's vector carries. It knows nothing of the registry or of jobs."""

from orchestrator.vectors.chunk_records import (
    LIST_KEYS,
    MAX_METADATA_BYTES,
    MAX_METADATA_KEYS,
    RESERVED,
    ChunkMeta,
    CollectionInfo,
    Hit,
    InvalidMetadata,
    VectorRecord,
    check_metadata_size,
    check_user_metadata,
    chunk_metadata,
    document_ids,
    flatten_metadata,
    parse_vector_id,
    restore_metadata,
    user_metadata,
    vector_id,
    where_document,
)
from orchestrator.vectors.filters import MAX_FILTER_DEPTH, MAX_FILTER_OPERANDS, InvalidFilter, check_filter
from orchestrator.vectors.store import VectorStore

__all__ = [
    "LIST_KEYS",
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_OPERANDS",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_KEYS",
    "RESERVED",
    "ChunkMeta",
    "CollectionInfo",
    "Hit",
    "InvalidFilter",
    "InvalidMetadata",
    "VectorRecord",
    "VectorStore",
    "check_filter",
    "check_metadata_size",
    "check_user_metadata",
    "chunk_metadata",
    "document_ids",
    "flatten_metadata",
    "parse_vector_id",
    "restore_metadata",
    "user_metadata",
    "vector_id",
    "where_document",
]
