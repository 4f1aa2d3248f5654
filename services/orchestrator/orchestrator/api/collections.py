"""/api/v1/collections: create (with its own Chroma collection), list with counts, get, patch, delete."""

import secrets

from fastapi import APIRouter, Query, Response, status
from redis.asyncio import Redis

from orchestrator import keys
from orchestrator.api.deps import ComputeDep, QueueDep, RedisDep, RegistryDep, VectorsDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import CollectionCreate, CollectionDeleted, CollectionOut, CollectionPatch
from orchestrator.errors import Conflict, IllegalTransition, NotFound
from orchestrator.records import Collection, CollectionStatus, JobType, Page, Priority
from orchestrator.registry import Registry

router = APIRouter(prefix="/collections", tags=["collections"])


async def active_collection(registry: Registry, name: str) -> Collection:
    """The collection, or 404: one being deleted is hidden at once."""
    try:
        collection = await registry.get_collection(name)
    except NotFound:
        raise ApiError(404, "not_found", f"collection {name!r} not found") from None
    if collection.status is not CollectionStatus.active:
        raise ApiError(404, "not_found", f"collection {name!r} not found (it is being deleted)")
    return collection


async def _counts(redis: Redis, collections: list[Collection]) -> list[CollectionOut]:
    out = []
    for collection in collections:
        ids = await redis.zrange(keys.documents_by_collection(collection.name), 0, -1)
        async with redis.pipeline(transaction=False) as pipe:
            for document_id in ids:
                pipe.hmget(keys.document(document_id), ["generation", "chunk_count", "status"])
            rows = await pipe.execute()
        chunks = sum(
            int(count or 0)
            for generation, count, state in rows
            if int(generation or 0) > 0 and state != "deleting"
        )
        out.append(CollectionOut(**collection.model_dump(), document_count=len(ids), chunk_count=chunks))
    return out


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CollectionOut)
async def create_collection(
    body: CollectionCreate,
    registry: RegistryDep,
    vectors: VectorsDep,
    compute: ComputeDep,
    response: Response,
) -> CollectionOut:
    try:
        existing = await registry.get_collection(body.name)
    except NotFound:
        existing = None
    if existing is not None:
        why = "is being deleted" if existing.status is CollectionStatus.deleting else "exists"
        raise ApiError(409, "conflict", f"collection {body.name!r} {why}")
    # One probe embedding: the model's real name and dimension, as compute serves them.
    probe = await compute.embed(["dimension probe"], kind="query", model=body.embedding_model)
    chroma_name = f"{body.name}-{secrets.token_hex(4)}"
    await vectors.create_collection(chroma_name, dim=probe.dim, model=probe.model)
    collection = Collection(
        name=body.name,
        embedding_model=probe.model,
        dim=probe.dim,
        chroma_name=chroma_name,
        chunking=body.chunking.model_dump(exclude_none=True),
        extract_metadata=body.extract_metadata,
        metadata=body.metadata,
    )
    try:
        await registry.create_collection(collection)
    except Conflict:
        await vectors.delete_collection(chroma_name)
        raise ApiError(409, "conflict", f"collection {body.name!r} exists") from None
    response.headers["Location"] = f"/api/v1/collections/{body.name}"
    return CollectionOut(**collection.model_dump())


@router.get("", response_model=Page[CollectionOut])
async def list_collections(
    registry: RegistryDep,
    redis: RedisDep,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
) -> Page[CollectionOut]:
    page = await registry.list_collections(cursor=cursor, limit=limit)
    active = [c for c in page.items if c.status is CollectionStatus.active]
    return Page(items=await _counts(redis, active), next_cursor=page.next_cursor)


@router.get("/{name}", response_model=CollectionOut)
async def get_collection(name: str, registry: RegistryDep, redis: RedisDep) -> CollectionOut:
    return (await _counts(redis, [await active_collection(registry, name)]))[0]


@router.patch("/{name}", response_model=CollectionOut)
async def patch_collection(
    name: str, body: CollectionPatch, registry: RegistryDep, redis: RedisDep
) -> CollectionOut:
    current = await active_collection(registry, name)
    merged = {k: v for k, v in {**current.metadata, **body.metadata}.items() if v is not None}
    updated = await registry.update_collection(name, metadata=merged)
    return (await _counts(redis, [updated]))[0]


@router.delete("/{name}", status_code=status.HTTP_202_ACCEPTED, response_model=CollectionDeleted)
async def delete_collection(name: str, registry: RegistryDep, queue: QueueDep) -> CollectionDeleted:
    """Hidden at once (status `deleting`: no upload, search or read sees it), then a job deletes its
    vectors and records. Deleting it again returns the same job."""
    try:
        collection = await registry.get_collection(name)
    except NotFound:
        raise ApiError(404, "not_found", f"collection {name!r} not found") from None
    if collection.status is CollectionStatus.active:
        try:
            collection = await registry.update_collection(name, status=CollectionStatus.deleting)
        except IllegalTransition:
            pass  # a concurrent delete got there first: the same job below
    enqueued = await queue.enqueue(
        JobType.delete_collection,
        {"collection": name},
        priority=Priority.high,
        collection=name,
        idempotency_key=f"delete_collection:{name}:{collection.created_at_ms}",
    )
    return CollectionDeleted(name=name, job_id=enqueued.job.id)
