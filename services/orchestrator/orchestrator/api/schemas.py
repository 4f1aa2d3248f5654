"""Request and response bodies of /api/v1 (records from records.py are returned as they are)."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from contracts import ChunkStrategy
from orchestrator.records import Collection, Job

# Lower case letters, digits, '-' and '_', starting with a letter or digit, 2 to 63 characters.
COLLECTION_NAME = r"^[a-z0-9][a-z0-9_-]{1,62}$"


class ChunkingOptions(BaseModel):
    strategy: ChunkStrategy | None = None
    max_tokens: int | None = Field(None, ge=16, le=8192)


class CollectionCreate(BaseModel):
    name: str = Field(pattern=COLLECTION_NAME, description="lower case letters, digits, - and _; 2-63 long")
    metadata: dict[str, Any] = Field(default_factory=dict)
    embedding_model: str | None = None  # compute's default model when absent
    chunking: ChunkingOptions = Field(default_factory=ChunkingOptions)
    extract_metadata: bool = False  # also extract title, language, keywords and a summary per document


class CollectionPatch(BaseModel):
    metadata: dict[str, Any]


class CollectionOut(Collection):
    document_count: int = 0
    chunk_count: int = 0  # chunks of the searchable generations of its documents


class CollectionDeleted(BaseModel):
    name: str
    job_id: str


class OnDuplicate(StrEnum):
    reject = "reject"  # 409 with the existing document's id
    skip = "skip"  # 200 with the existing document
    replace = "replace"  # re-ingest the existing document


class UploadAccepted(BaseModel):
    document_id: str
    job_id: str | None
    duplicate: bool = False  # the bytes matched a document already in the collection


class DocumentPatch(BaseModel):
    metadata: dict[str, Any] = Field(description="keys to set; a null value removes the key")


class ReingestRequest(BaseModel):
    chunking: ChunkingOptions | None = None


class JobAccepted(BaseModel):
    job_id: str
    document_id: str | None = None


class ChunkOut(BaseModel):
    chunk_id: str
    index: int
    text: str
    heading_path: list[str]
    pages: list[int]


class ChunksPage(BaseModel):
    document_id: str
    generation: int
    chunks: list[ChunkOut]
    next_cursor: str | None = None


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4_000)
    collections: list[str] = Field(min_length=1, max_length=32)
    top_k: int = Field(10, ge=1, le=1_000)
    filters: dict[str, Any] | None = Field(None, description="a Chroma `where` on document metadata")
    min_score: float | None = Field(None, ge=-1, le=1)


class SearchHit(BaseModel):
    chunk_id: str
    document_id: str
    collection: str
    filename: str
    text: str
    score: float  # cosine similarity
    heading_path: list[str]
    pages: list[int]
    metadata: dict[str, Any] = Field(default_factory=dict)  # the document's user metadata


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]


class JobOut(Job):
    pass
