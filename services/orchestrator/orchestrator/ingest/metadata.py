"""A document's user metadata, changed in the registry and on the vectors of its searchable generation,
so that search filters and results agree with the record."""

from typing import Any

from orchestrator.catalog import Document, merge_metadata
from orchestrator.clients import Clients
from orchestrator.ingest.operations import live_document
from orchestrator.vectors import (
    MAX_METADATA_KEYS,
    RESERVED,
    InvalidMetadata,
    check_user_metadata,
    user_metadata,
    where_document,
)


async def patch_metadata(clients: Clients, document_id: str, patch: dict[str, Any]) -> Document:
    """Merges `patch` into the document's metadata (a None value removes a key); metadata the vector
    store would refuse is InvalidMetadata (422), before anything changes."""
    check_user_metadata(patch)
    document = await live_document(clients, document_id)
    merged = merge_metadata(document.metadata, patch)
    if len(merged) > MAX_METADATA_KEYS:
        raise InvalidMetadata(f"at most {MAX_METADATA_KEYS} metadata keys")
    updated = await clients.registry.update_document(document_id, metadata=merged)
    if updated.generation == 0:
        return updated
    collection = await clients.registry.get_collection(document.collection)
    chroma = collection.vector_name
    records = await clients.vectors.get(
        chroma, where=where_document(document_id, generation=updated.generation)
    )
    if records:
        removed = {k: None for k in document.metadata if k not in merged and k not in RESERVED}
        metadatas = [
            {
                **r.metadata,
                **removed,
                **user_metadata(merged),
                **{k: r.metadata[k] for k in RESERVED if k in r.metadata},
            }
            for r in records
        ]
        await clients.vectors.update_metadata(chroma, [r.id for r in records], metadatas)
    return updated
