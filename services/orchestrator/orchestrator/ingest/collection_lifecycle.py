"""A collection's lifecycle across the catalog, the vector store and the queue: created only by an
explicit call (with its own Chroma collection, in the model's dimension, within ORCH_MAX_COLLECTIONS),
deleted by a job. Its metadata follows the rule of a document's (vectors.check_user_metadata)."""

import asyncio
import logging
import secrets
import time
from contextlib import suppress
from typing import Any

from contracts import ChunkOptions
from orchestrator.catalog import Collection, CollectionStatus, TooManyCollections
from orchestrator.clients import Clients
from orchestrator.errors import Conflict, IllegalTransition, NotFound
from orchestrator.ingest.metadata import merged_metadata
from orchestrator.ingest.operations import resume_delete
from orchestrator.jobs import Job, JobType, Priority
from orchestrator.vectors import check_user_metadata

log = logging.getLogger(__name__)


async def create_collection(
    clients: Clients,
    name: str,
    *,
    embedding_model: str | None,
    chunking: ChunkOptions,
    extract_metadata: bool,
    metadata: dict[str, Any],
) -> Collection:
    """Every refusal (invalid_metadata, conflict, too_many_collections) comes before anything is made;
    a create that loses a race for the name or the last place deletes the Chroma collection it made."""
    check_user_metadata(metadata, allow_none=False)
    try:
        existing = await clients.registry.get_collection(name)
    except NotFound:
        existing = None
    if existing is not None:
        why = "is being deleted" if existing.status is CollectionStatus.deleting else "exists"
        raise Conflict(f"collection {name!r} {why}")
    max_collections = clients.settings.max_collections
    if await clients.registry.count_collections() >= max_collections:
        raise TooManyCollections(max_collections)
    # One probe embedding: the model's real name and dimension, as compute serves them.
    probe = await clients.compute.embed(["dimension probe"], kind="query", model=embedding_model)
    # Unique per creation, so a name deleted and made again never meets its old vectors.
    chroma_name = f"{name}-{secrets.token_hex(4)}"
    try:
        await clients.vectors.create_collection(chroma_name, dim=probe.dim, model=probe.model)
    except BaseException:  # Chroma may have made it and lost the reply
        _drop_later(clients, name, chroma_name)
        raise
    collection = Collection(
        name=name,
        embedding_model=probe.model,
        dim=probe.dim,
        chroma_name=chroma_name,
        chunking=chunking,
        extract_metadata=extract_metadata,
        metadata=metadata,
    )
    try:
        await clients.registry.create_collection(collection, max_collections=max_collections)
    except TooManyCollections:
        await clients.vectors.delete_collection(chroma_name)
        raise
    except Conflict:
        await clients.vectors.delete_collection(chroma_name)
        raise Conflict(f"collection {name!r} exists") from None
    except BaseException:  # Redis failed, or the request was cancelled
        _drop_later(clients, name, chroma_name)
        raise
    return collection


# Cleanups of failed creates, run beside the request (whose answer is an error already); referenced here
# so that the event loop does not drop them.
_cleanups: set[asyncio.Task[None]] = set()
CLEANUP_FOR_S = 60.0  # Redis or Chroma restarting: seconds; past this the reconciler takes over


def _drop_later(clients: Clients, name: str, chroma_name: str) -> None:
    task = asyncio.get_running_loop().create_task(_drop_unregistered(clients, name, chroma_name))
    _cleanups.add(task)
    task.add_done_callback(_cleanups.discard)


async def _drop_unregistered(clients: Clients, name: str, chroma_name: str) -> None:
    """After a failed create: deletes the Chroma collection unless the registry names it (its write may
    have landed with the reply lost), retrying while Redis or Chroma is away. If the process dies first,
    the reconciler removes it once it is old enough (reconciler.ORPHAN_MIN_AGE_S)."""
    deadline, delay_s = time.monotonic() + CLEANUP_FOR_S, 0.2
    while True:
        try:
            try:
                registered = await clients.registry.get_collection(name)
            except NotFound:
                registered = None
            if registered is None or registered.chroma_name != chroma_name:
                await clients.vectors.delete_collection(chroma_name)  # a missing one is fine
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                log.warning(
                    "collection %s: Chroma collection %s left for the reconciler (%r)", name, chroma_name, exc
                )
                return
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)


async def patch_collection(clients: Clients, name: str, metadata: dict[str, Any]) -> Collection:
    """Merges metadata (a None value removes its key) in one transaction, the caps checked on the merged
    result there (InvalidMetadata: nothing written); NotFound when it is being deleted."""
    check_user_metadata(metadata)

    def change(current: Collection) -> dict[str, Any]:
        if current.status is not CollectionStatus.active:
            raise NotFound(f"collection {name!r} not found (it is being deleted)")
        return {"metadata": merged_metadata(current.metadata, metadata)}

    return await clients.registry.change_collection(name, change)


async def delete_collection(clients: Clients, name: str) -> Job:
    """Hidden at once (status `deleting`: no upload, search or read sees it), then a job deletes its
    vectors and records. Deleting it again returns the same job."""
    collection = await clients.registry.get_collection(name)
    if collection.status is CollectionStatus.active:
        with suppress(IllegalTransition):  # a concurrent delete got there first: the same job below
            collection = await clients.registry.update_collection(name, status=CollectionStatus.deleting)
    # A crash (or Redis going away) right here leaves it `deleting` with no job: the reconciler queues it.
    return await _enqueue_delete(clients, name, _delete_key(collection))


async def resume_collection_delete(clients: Clients, collection: Collection, *, grace_s: float) -> bool:
    """For the reconciler: see operations.resume_delete."""

    async def enqueue(key: str | None) -> Job:
        return await _enqueue_delete(clients, collection.name, key)

    return await resume_delete(
        clients, _delete_key(collection), enqueue, since_ms=collection.updated_at_ms, grace_s=grace_s
    )


def _delete_key(collection: Collection) -> str:
    return f"delete_collection:{collection.name}:{collection.created_at_ms}"


async def _enqueue_delete(clients: Clients, name: str, key: str | None) -> Job:
    enqueued = await clients.queue.enqueue(
        JobType.delete_collection,
        {"collection": name},
        priority=Priority.high,
        collection=name,
        idempotency_key=key,
    )
    return enqueued.job
