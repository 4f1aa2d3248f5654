"""A document's user metadata, changed in the registry and on the vectors of its searchable generation,
so that search filters and results agree with the record.

A patch merges in one Redis transaction (a concurrent patch makes it re-run). The vectors follow the
registry, never a caller's copy: `sync_vector_metadata` writes the document's current metadata under a
per-document lock, so the last sync leaves the latest. The saga's commit is refused if a patch lands
after its own sync (MetadataMoved). See docs/architecture.md#the-ingestion-saga-and-its-invariants.
"""

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from orchestrator.catalog import Document, DocumentStatus, merge_metadata
from orchestrator.clients import Clients
from orchestrator.core import keys
from orchestrator.core.locks import owned_lock
from orchestrator.errors import Conflict, NotFound
from orchestrator.vectors import (
    RESERVED,
    check_metadata_size,
    check_user_metadata,
    user_metadata,
    where_document,
)

log = logging.getLogger(__name__)

# A sync writes a page of vectors per request: the TTL bounds a holder that died, far above a real sync.
LOCK_TTL_S = 120.0
LOCK_WAIT_S = 60.0  # how long a sync waits for the one before it
LOCK_POLL_S = 0.05
PAGE = 1_000  # vectors read and updated per request


def merged_metadata(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata after a patch (a None value removes a key), a document's or a collection's;
    InvalidMetadata past the caps on the whole (check_metadata_size: keys and bytes). Called inside the
    transaction that writes it, so that no sequence of patches grows a record past them."""
    merged = merge_metadata(dict(current), dict(patch))
    check_metadata_size(merged)
    return merged


async def merge_patch(clients: Clients, document_id: str, patch: Mapping[str, Any]) -> Document:
    """The registry's half of a patch: merged into the current record in one transaction (a concurrent
    write re-runs the merge). NotFound when the document does not exist or is being deleted."""

    def change(document: Document) -> dict[str, Any]:
        if document.status is DocumentStatus.deleting:
            raise NotFound(f"document {document_id!r} is being deleted")
        return {"metadata": merged_metadata(document.metadata, patch)}

    return await clients.registry.change_document(document_id, change)


async def patch_metadata(clients: Clients, document_id: str, patch: dict[str, Any]) -> Document:
    """Merges `patch` into the document's metadata (a None value removes a key), then brings its vectors
    in line; metadata the vector store would refuse is InvalidMetadata (422), before anything changes."""
    check_user_metadata(patch)
    updated = await merge_patch(clients, document_id, patch)
    await sync_vector_metadata(clients, document_id)
    return updated


async def sync_vector_metadata(
    clients: Clients, document_id: str, *, generation: int | None = None
) -> dict[str, Any] | None:
    """Writes the document's current user metadata onto the vectors of its searchable generation (or of
    `generation`: an ingest's own, before its commit): keys it no longer has are removed, the reserved
    fields stay. Returns the metadata written, None when there was nothing to do (a document missing,
    being deleted, or never ready). Raises what Redis or Chroma raise (the registry is the truth: a later
    sync, or the next patch, writes it again)."""
    async with _metadata_lock(clients, document_id):
        try:  # read under the lock: a sync that waited sees what the one before it wrote, or newer
            document = await clients.registry.get_document(document_id)
            collection = await clients.registry.get_collection(document.collection)
        except NotFound:
            return None
        target = document.generation if generation is None else generation
        if document.status is DocumentStatus.deleting or target == 0:
            return None
        wanted = user_metadata(document.metadata)
        where = where_document(document_id, generation=target)
        tried = False
        try:
            offset = 0
            while True:  # updates move no record, so offsets stay stable while paging
                records = await clients.vectors.get(
                    collection.vector_name, where=where, limit=PAGE, offset=offset
                )
                changed = [(r.id, change) for r in records if (change := _change(r.metadata, wanted))]
                if changed:
                    tried = True  # set before the write: one whose answer is lost may still have landed
                    await clients.vectors.update_metadata(
                        collection.vector_name, [i for i, _ in changed], [c for _, c in changed]
                    )
                if len(records) < PAGE:
                    return document.metadata
                offset += PAGE
        finally:
            if tried and target == document.generation:  # filters over searchable vectors read otherwise
                await clients.registry.record_vectors_changed(document.collection, document_id)


def behind(stored: Mapping[str, Any], document: Document) -> bool:
    """Whether a vector's user metadata differs from its document's (a sync that never ran: its patch
    was answered with an error after the registry write, or the process died in between)."""
    return bool(_change(stored, user_metadata(document.metadata)))


def _change(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """What turns a vector's user metadata into `wanted` (None removes a key); {} when it is already."""
    current = {k: v for k, v in stored.items() if k not in RESERVED}
    if current == wanted:
        return {}
    return {**{k: None for k in current if k not in wanted}, **wanted}


@asynccontextmanager
async def _metadata_lock(clients: Clients, document_id: str) -> AsyncIterator[None]:
    """The document's metadata lock: one sync at a time."""
    busy = Conflict(f"the metadata of document {document_id} is being written: retry", retryable=True)
    async with owned_lock(
        clients.redis,
        keys.metadata_lock(document_id),
        ttl_s=LOCK_TTL_S,
        wait_s=LOCK_WAIT_S,
        poll_s=LOCK_POLL_S,
        busy=busy,
    ):
        yield
