"""Records kept in Redis (collections, documents, jobs, workers) and how they map onto Redis hashes.

A record is one hash: scalars are stored as plain strings so Lua scripts can read and change single
fields atomically; nested values (payload, progress, error, metadata) are stored as JSON. Timestamps are
Unix epoch milliseconds taken from the Redis server's clock, so that every worker agrees on them.
"""

import json
import secrets
import threading
import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel, Field


class Priority(StrEnum):
    high = "high"
    normal = "normal"
    low = "low"


# The order in which workers read the priority streams.
PRIORITIES: tuple[Priority, ...] = (Priority.high, Priority.normal, Priority.low)


class JobType(StrEnum):
    ingest = "ingest"
    reingest = "reingest"
    delete_document = "delete_document"
    delete_collection = "delete_collection"
    reconcile = "reconcile"


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    retrying = "retrying"  # waiting out its backoff before the next attempt
    succeeded = "succeeded"
    failed = "failed"  # a permanent error: retrying would give the same answer
    cancelled = "cancelled"
    dead = "dead"  # in the dead-letter stream: poison, retries exhausted, or its workers kept dying


FINAL_JOB_STATUSES = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled, JobStatus.dead})


class DocumentStatus(StrEnum):
    queued = "queued"
    processing = "processing"
    ready = "ready"
    failed = "failed"
    cancelled = "cancelled"
    deleting = "deleting"


class CollectionStatus(StrEnum):
    active = "active"
    deleting = "deleting"


_id_lock = threading.Lock()
_last_id_ms = 0
_id_sequence = 0


def new_id() -> str:
    """A 24-hex-digit id whose lexical order is its creation order: ms clock, a sequence within the ms
    (so ids made by one process never tie), then 32 random bits (so processes do not collide)."""
    global _last_id_ms, _id_sequence
    with _id_lock:
        ms = max(time.time_ns() // 1_000_000, _last_id_ms)
        _id_sequence = _id_sequence + 1 if ms == _last_id_ms else 0
        if _id_sequence > 0xFFFF:  # 65,536 ids in one ms: borrow the next ms
            ms, _id_sequence = ms + 1, 0
        _last_id_ms = ms
        return f"{ms:012x}{_id_sequence:04x}{secrets.token_hex(4)}"


def id_floor(epoch_ms: int) -> str:
    """The smallest id created at or after epoch_ms, for time-bounded listings."""
    return f"{epoch_ms:012x}"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class RedisRecord(BaseModel):
    """A pydantic model stored as one Redis hash."""

    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def to_redis(self) -> dict[str, str]:
        return encode_fields(self.model_dump(mode="json", exclude_none=True), self.JSON_FIELDS)

    @classmethod
    def from_redis(cls, raw: Mapping[str, str]) -> Self:
        values: dict[str, Any] = {
            k: json.loads(v) if k in cls.JSON_FIELDS else v for k, v in raw.items() if k in cls.model_fields
        }
        return cls.model_validate(values)


def pairs(flat: list[str]) -> dict[str, str]:
    """A flat [field, value, ...] reply (HGETALL inside a script) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def encode_fields(values: Mapping[str, Any], json_fields: frozenset[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if key in json_fields:
            out[key] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            out[key] = "1" if value else "0"
        else:
            out[key] = str(value)
    return out


class Progress(BaseModel):
    done: int = Field(ge=0)
    total: int | None = Field(None, ge=0)
    unit: str


class JobErrorInfo(BaseModel):
    code: str
    message: str
    retryable: bool = False
    poison: bool = False


class Job(RedisRecord):
    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset({"payload", "progress", "error"})

    id: str
    type: JobType
    status: JobStatus
    priority: Priority = Priority.normal
    payload: dict[str, Any] = Field(default_factory=dict)
    collection: str | None = None
    document_id: str | None = None
    idempotency_key: str | None = None
    stage: str | None = None
    progress: Progress | None = None
    attempts: int = 0  # handler starts so far; a graceful release gives its attempt back
    error: JobErrorInfo | None = None
    dead_reason: str | None = None
    dead_entry_id: str | None = None  # its entry in the dead-letter stream
    worker: str | None = None  # the worker that holds (or last held) the lease
    cancel_requested: bool = False
    entry_id: str | None = None  # its current entry in a priority stream
    created_at_ms: int | None = None
    updated_at_ms: int | None = None
    started_at_ms: int | None = None  # start of the latest attempt
    run_at_ms: int | None = None  # when a retrying job becomes due
    finished_at_ms: int | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES


class Collection(RedisRecord):
    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset({"chunking", "metadata"})

    name: str
    status: CollectionStatus = CollectionStatus.active
    embedding_model: str | None = None
    dim: int | None = Field(None, ge=1)  # the embedding model's dimension
    extract_metadata: bool = False  # ingestion asks compute for title, language, keywords, summary
    chroma_name: str | None = None  # its Chroma collection: unique per creation, so a re-made name never collides
    chunking: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at_ms: int = Field(default_factory=now_ms)
    updated_at_ms: int = Field(default_factory=now_ms)


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


class WorkerInfo(RedisRecord):
    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset({"in_flight", "counters"})

    id: str
    host: str
    pid: int
    concurrency: int
    started_at_ms: int
    last_beat_at_ms: int
    in_flight: list[str] = Field(default_factory=list)
    counters: dict[str, int] = Field(default_factory=dict)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
