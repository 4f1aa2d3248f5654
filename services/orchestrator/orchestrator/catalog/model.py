"""The catalog's records: collections and documents, with their statuses."""

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from contracts import ChunkOptions
from orchestrator.core.ids import new_id, now_ms
from orchestrator.core.redis_hashes import RedisRecord


class DocumentStatus(StrEnum):
    queued = "queued"
    processing = "processing"
    ready = "ready"
    failed = "failed"
    cancelled = "cancelled"
    deleting = "deleting"


IN_FLIGHT = frozenset({DocumentStatus.queued, DocumentStatus.processing})


def merge_metadata(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """User metadata after a patch: its keys set, those set to None removed."""
    return {k: v for k, v in {**current, **patch}.items() if v is not None}


class CollectionStatus(StrEnum):
    active = "active"
    deleting = "deleting"


class Collection(RedisRecord):
    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset({"chunking", "metadata"})

    name: str
    status: CollectionStatus = CollectionStatus.active
    embedding_model: str | None = None
    dim: int | None = Field(None, ge=1)  # the embedding model's dimension
    extract_metadata: bool = False  # ingestion asks compute for title, language, keywords, summary
    chroma_name: str | None = (
        None  # its Chroma collection: unique per creation, so a re-made name never collides
    )
    chunking: ChunkOptions = Field(default_factory=ChunkOptions)  # defaults for its documents' jobs
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at_ms: int = Field(default_factory=now_ms)
    updated_at_ms: int = Field(default_factory=now_ms)

    @property
    def vector_name(self) -> str:
        """Its Chroma collection (collections made before chroma_name existed use their own name)."""
        return self.chroma_name or self.name


class DocumentError(BaseModel):
    code: str
    message: str


class Document(RedisRecord):
    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset({"metadata", "error", "extracted"})

    id: str = Field(default_factory=new_id)
    collection: str
    filename: str
    sha256: str
    size_bytes: int = Field(ge=0)
    format: str | None = None
    status: DocumentStatus = DocumentStatus.queued
    generation: int = Field(0, ge=0)  # the searchable generation, set only when one is made ready; 0: none
    latest_generation: int = Field(0, ge=0)  # the highest generation any ingest job started
    latest_generation_job: str | None = None  # the job that owns latest_generation (its retries reuse it)
    chunk_count: int = Field(0, ge=0)
    pages: int | None = Field(None, ge=0)
    metadata: dict[str, Any] = Field(default_factory=dict)
    error: DocumentError | None = None
    extracted: dict[str, Any] | None = None  # title, language, keywords, summary (compute /extract-metadata)
    job_id: str | None = None  # the latest job that works on it
    created_at_ms: int = Field(default_factory=now_ms)
    updated_at_ms: int = Field(default_factory=now_ms)

    @property
    def in_flight(self) -> bool:
        """An ingest job is queued or running for it: no other ingest may start."""
        return self.status in IN_FLIGHT


def searchable(document: Document | None, generation: int) -> bool:
    """Whether search may return the document's vectors of `generation`: it exists, is not being
    deleted, and that is its searchable generation."""
    return (
        document is not None
        and document.status is not DocumentStatus.deleting
        and document.generation > 0
        and document.generation == generation
    )
