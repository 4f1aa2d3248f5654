"""What a chunk's vector is in Chroma: its id, the metadata it carries (one codec, both ways), and the
records the store returns.

Metadata values are str, int, float or bool only: Chroma 1.5's list values leak across a delete (measured
on 1.5.9), so `flatten_metadata` stores lists and dicts as JSON and `restore_metadata` turns the list
fields back. Every chunk's vector carries the reserved fields below; user metadata naming one is refused
at the door (`check_user_metadata`), and dropped should one get through.
"""

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts import Chunk
from orchestrator.core.redis_hashes import utf8_encodable
from orchestrator.errors import OrchErrorCode, VectorStoreError

# The reserved chunk fields, set by the orchestrator on every vector.
DOCUMENT_ID = "document_id"
GENERATION = "generation"
CHUNK_INDEX = "chunk_index"
FILENAME = "filename"
COLLECTION = "collection"
HEADING_PATH = "heading_path"
PAGES = "pages"
INGESTED_AT_MS = "ingested_at_ms"
RESERVED = frozenset(
    {DOCUMENT_ID, GENERATION, CHUNK_INDEX, FILENAME, COLLECTION, HEADING_PATH, PAGES, INGESTED_AT_MS}
)
LIST_KEYS = (HEADING_PATH, PAGES)  # stored as JSON strings, restored as lists

Metadata = Mapping[str, Any]
Scalar = str | int | float | bool


# What user metadata may hold: what Chroma stores and filters without refusing it, within small bounds.
MAX_METADATA_KEYS = 64
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 4_096  # a string, or a list or object as the JSON the codec stores
MAX_NESTING = 4
# The whole object as compact UTF-8 JSON. Every chunk's vector carries a copy (a 20,000-chunk document
# stores it 20,000 times) and a patch merges into it, so the bound is on the whole: room for an abstract
# and dozens of tags, far below the 64 keys of 4 KiB the per-key caps would let through.
MAX_METADATA_BYTES = 16 * 1024
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Chroma refuses keys of its own namespace; `$` and `#` start its filter operators and special fields.
REFUSED_KEY_PREFIXES = ("chroma:", "$", "#")


class InvalidMetadata(VectorStoreError):
    """User metadata the vector store would refuse, or that would collide with the reserved fields (422)."""

    def __init__(self, message: str):
        super().__init__(OrchErrorCode.invalid_metadata, message)


def storable_scalar(value: Any) -> bool:
    """A value Chroma stores and compares: a string, a boolean, a 64-bit integer or a finite number."""
    if isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    return isinstance(value, float) and math.isfinite(value)


def _check_value(key: str, value: Any, depth: int = 0) -> None:
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
            raise InvalidMetadata(f"metadata {key!r}: strings hold at most {MAX_VALUE_CHARS} characters")
        return
    if isinstance(value, int | float):
        if not storable_scalar(value):
            raise InvalidMetadata(f"metadata {key!r}: numbers are finite, and integers fit in 64 bits")
        return
    if isinstance(value, list | dict):
        if depth >= MAX_NESTING:
            raise InvalidMetadata(f"metadata {key!r}: nested deeper than {MAX_NESTING} levels")
        items = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
            raise InvalidMetadata(f"metadata {key!r}: object keys must be strings")
        for item in items:
            _check_value(key, item, depth + 1)
        if depth == 0 and len(scalar(value)) > MAX_VALUE_CHARS:
            raise InvalidMetadata(f"metadata {key!r}: at most {MAX_VALUE_CHARS} characters as JSON")
        return
    raise InvalidMetadata(f"metadata {key!r}: {type(value).__name__} values are not allowed")


def metadata_bytes(metadata: Mapping[str, Any]) -> int:
    """The size that MAX_METADATA_BYTES bounds: the object as compact UTF-8 JSON."""
    text = json.dumps(dict(metadata), separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text.encode("utf-8", "surrogatepass"))


def check_metadata_size(metadata: Mapping[str, Any]) -> None:
    """The caps on a whole metadata object, as stored (after a patch's merge too): MAX_METADATA_KEYS
    keys and MAX_METADATA_BYTES; InvalidMetadata past either."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidMetadata(f"at most {MAX_METADATA_KEYS} metadata keys")
    if metadata_bytes(metadata) > MAX_METADATA_BYTES:
        raise InvalidMetadata(f"metadata holds at most {MAX_METADATA_BYTES} bytes as JSON")


def check_user_metadata(metadata: Mapping[Any, Any], *, allow_none: bool = True) -> dict[str, Any]:
    """The one rule for user metadata (a document's and a collection's), at create or upload and on
    patch: keys are non-empty strings of at most MAX_KEY_CHARS, outside Chroma's namespace and the
    reserved fields; values are None (allow_none: it removes a key in a patch), str, bool, an int within
    int64, a finite float, or lists and objects of those (stored as JSON); what it sets fits
    check_metadata_size. Returns it unchanged; InvalidMetadata otherwise."""
    if not utf8_encodable(metadata):
        raise InvalidMetadata("metadata keys and values must be valid UTF-8 (no lone surrogates)")
    for key, value in metadata.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_CHARS:
            raise InvalidMetadata(
                f"metadata keys are non-empty strings of at most {MAX_KEY_CHARS} characters"
            )
        if key.startswith(REFUSED_KEY_PREFIXES):
            raise InvalidMetadata(f"metadata key {key!r}: keys may not start with {REFUSED_KEY_PREFIXES}")
        if key in RESERVED:
            raise InvalidMetadata(f"metadata key {key!r} is reserved: every chunk's vector sets it")
        if value is None and not allow_none:
            raise InvalidMetadata(f"metadata {key!r}: null is only a patch's way to remove a key")
        _check_value(key, value)
    check_metadata_size({k: v for k, v in metadata.items() if v is not None})
    return dict(metadata)


def vector_id(document_id: str, generation: int, index: int) -> str:
    return f"{document_id}:{generation}:{index}"


def parse_vector_id(value: str) -> tuple[str, int, int]:
    """(document_id, generation, index) of a vector id; ValueError if it is not one."""
    document_id, generation, index = value.rsplit(":", 2)
    return document_id, int(generation), int(index)


def scalar(value: Any) -> Scalar:
    """A value as Chroma can hold it: scalars as they are, anything else as compact JSON."""
    if isinstance(value, str | bool | int | float):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def flatten_metadata(metadata: Metadata | None, *, keep_none: bool = False) -> dict[str, Any]:
    """Metadata Chroma can store and filter safely: scalars kept, anything else as JSON, None dropped
    (kept with keep_none, for update_metadata, where Chroma reads a None as "remove this key")."""
    flat: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        if value is not None:
            flat[str(key)] = scalar(value)
        elif keep_none:
            flat[str(key)] = None
    return flat


def restore_metadata(metadata: Metadata | None, keys: Sequence[str] = LIST_KEYS) -> dict[str, Any]:
    """The inverse of flatten_metadata for `keys` (JSON strings back to lists); other values as stored."""
    restored = dict(metadata or {})
    for key in keys:
        value = restored.get(key)
        if isinstance(value, str) and value[:1] in "[{":
            try:
                restored[key] = json.loads(value)
            except ValueError:
                pass
    return restored


def user_metadata(metadata: Metadata) -> dict[str, Scalar]:
    """A document's user metadata as its vectors carry it: reserved names and None values dropped."""
    return {k: v for k, v in flatten_metadata(metadata).items() if k not in RESERVED}


def chunk_metadata(
    chunk: Chunk,
    *,
    document_id: str,
    generation: int,
    filename: str,
    collection: str,
    metadata: Metadata,
    ingested_at_ms: int,
) -> dict[str, Scalar]:
    """Everything a chunk's vector carries: the document's user metadata, then the reserved fields."""
    return {
        **user_metadata(metadata),
        DOCUMENT_ID: document_id,
        GENERATION: generation,
        CHUNK_INDEX: chunk.index,
        FILENAME: filename,
        COLLECTION: collection,
        HEADING_PATH: scalar(chunk.heading_path),
        PAGES: scalar(chunk.pages),
        INGESTED_AT_MS: ingested_at_ms,
    }


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [] if value is None else [value]  # a value that was never a JSON list: keep what there is


@dataclass(frozen=True)
class ChunkMeta:
    """The reserved fields of one vector, read back (defaults for a vector that lacks them)."""

    document_id: str
    generation: int
    chunk_index: int
    ingested_at_ms: int
    heading_path: list[str]
    pages: list[int]

    @classmethod
    def read(cls, metadata: Metadata | None) -> "ChunkMeta":
        meta = restore_metadata(metadata)
        return cls(
            document_id=str(meta.get(DOCUMENT_ID, "")),
            generation=int(meta.get(GENERATION, -1)),
            chunk_index=int(meta.get(CHUNK_INDEX, 0)),
            ingested_at_ms=int(meta.get(INGESTED_AT_MS, 0)),
            heading_path=_as_list(meta.get(HEADING_PATH)),
            pages=_as_list(meta.get(PAGES)),
        )


def document_ids(metadatas: Sequence[Metadata | None]) -> list[str]:
    """The distinct documents some vectors belong to, sorted (for one batched registry lookup)."""
    return sorted({ChunkMeta.read(m).document_id for m in metadatas})


def where_document(
    document_id: str,
    *,
    generation: int | None = None,
    above: int | None = None,
    below: int | None = None,
) -> dict[str, Any]:
    """A Chroma `where` for one document's vectors: of one generation, or of those strictly above and/or
    below the given ones (the saga's deletes name ranges, so they never reach a newer attempt's)."""
    clauses: list[dict[str, Any]] = [{DOCUMENT_ID: document_id}]
    if generation is not None:
        clauses.append({GENERATION: generation})
    if above is not None:
        clauses.append({GENERATION: {"$gt": above}})
    if below is not None:
        clauses.append({GENERATION: {"$lt": below}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass(frozen=True)
class VectorRecord:
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    id: str
    text: str
    metadata: dict[str, Any]
    score: float  # 1 - cosine distance: 1 is the same direction, 0 orthogonal
    distance: float


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    model: str | None
    dim: int | None
    space: str | None
    metadata: dict[str, Any]
    created_at_ms: int | None = None  # None: made before the store recorded it, or by someone else
