"""What a vector is in Chroma: its id, its metadata (scalars only), and the records the store returns.

Metadata values must be str, int, float or bool. Chroma 1.5 also takes lists, but they leak: after a
delete, a later record can come back carrying a deleted record's list values (measured on 1.5.9), so the
store never writes one: `flatten_metadata` turns lists and dicts into JSON strings, `restore_metadata`
turns the list fields back into lists.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LIST_KEYS = ("heading_path", "pages")  # chunk metadata stored as JSON strings, restored as lists
Metadata = Mapping[str, Any]


def vector_id(document_id: str, generation: int, index: int) -> str:
    return f"{document_id}:{generation}:{index}"


def parse_vector_id(value: str) -> tuple[str, int, int]:
    """(document_id, generation, index) of a vector id; ValueError if it is not one."""
    document_id, generation, index = value.rsplit(":", 2)
    return document_id, int(generation), int(index)


def flatten_metadata(metadata: Metadata | None, *, keep_none: bool = False) -> dict[str, Any]:
    """Metadata Chroma can store and filter safely: scalars kept, anything else as JSON, None dropped
    (kept with keep_none, for update_metadata, where Chroma reads a None as "remove this key")."""
    flat: dict[str, Any] = {}
    for key, value in (metadata or {}).items():
        if value is None:
            if keep_none:
                flat[str(key)] = None
            continue
        if isinstance(value, str | bool | int | float):
            flat[str(key)] = value
        else:
            flat[str(key)] = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
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
