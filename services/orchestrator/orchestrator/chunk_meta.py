"""What each vector carries in Chroma, and how it reads back.

Chroma metadata values are scalars, so list fields (heading_path, pages) travel as JSON strings, and so
does any non-scalar user metadata. The reserved keys win over user metadata of the same name.
"""

import json
from typing import Any

from contracts import Chunk

# Set by the orchestrator on every vector; user metadata cannot override them.
RESERVED = frozenset(
    {
        "document_id",
        "generation",
        "chunk_index",
        "filename",
        "collection",
        "heading_path",
        "pages",
        "ingested_at_ms",
    }
)
_LIST_FIELDS = ("heading_path", "pages")


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def user_metadata(metadata: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """A document's user metadata as Chroma can hold it (None values are dropped)."""
    return {k: _scalar(v) for k, v in metadata.items() if v is not None and k not in RESERVED}


def for_chunk(
    chunk: Chunk,
    *,
    document_id: str,
    generation: int,
    filename: str,
    collection: str,
    metadata: dict[str, Any],
    ingested_at_ms: int,
) -> dict[str, str | int | float | bool]:
    return {
        **user_metadata(metadata),
        "document_id": document_id,
        "generation": generation,
        "chunk_index": chunk.index,
        "filename": filename,
        "collection": collection,
        "heading_path": json.dumps(chunk.heading_path),
        "pages": json.dumps(chunk.pages),
        "ingested_at_ms": ingested_at_ms,
    }


def decode(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A vector's metadata with its list fields as lists again."""
    out = dict(metadata or {})
    for field in _LIST_FIELDS:
        raw = out.get(field)
        if isinstance(raw, str):
            try:
                out[field] = json.loads(raw)
            except ValueError:
                out[field] = [raw]
        elif raw is None:
            out[field] = []
    return out


def where_document(document_id: str, *, generation: int | None = None, not_generation: int | None = None):
    """A Chroma `where` for one document's vectors, optionally of one generation or all but one."""
    clauses: list[dict[str, Any]] = [{"document_id": document_id}]
    if generation is not None:
        clauses.append({"generation": generation})
    if not_generation is not None:
        clauses.append({"generation": {"$ne": not_generation}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
