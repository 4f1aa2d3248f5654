"""/api/v1/collections: create (with its own Chroma collection), list with counts, get, patch, delete."""

from fastapi import APIRouter, Depends, Query, Response, status

import orchestrator.api.ratelimit as ratelimit
from orchestrator.api.deps import ClientsDep, RegistryDep
from orchestrator.api.schemas import CollectionCreate, CollectionDeleted, CollectionOut, CollectionPatch
from orchestrator.catalog import Collection, Registry
from orchestrator.core.pagination import Page
from orchestrator.ingest import collection_lifecycle as lifecycle

router = APIRouter(prefix="/collections", tags=["collections"])


async def _out(registry: Registry, collection: Collection) -> CollectionOut:
    stats = await registry.collection_stats(collection.name)
    return CollectionOut(**collection.model_dump(), **stats._asdict())


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectionOut,
    dependencies=[Depends(ratelimit.collections)],
)
async def create_collection(body: CollectionCreate, clients: ClientsDep, response: Response) -> CollectionOut:
    collection = await lifecycle.create_collection(
        clients,
        body.name,
        embedding_model=body.embedding_model,
        chunking=body.chunking,
        extract_metadata=body.extract_metadata,
        metadata=body.metadata,
    )
    response.headers["Location"] = f"/api/v1/collections/{body.name}"
    return CollectionOut(**collection.model_dump())


@router.get("", response_model=Page[CollectionOut])
async def list_collections(
    registry: RegistryDep, cursor: str | None = None, limit: int = Query(50, ge=1, le=1000)
) -> Page[CollectionOut]:
    page = await registry.list_collections(cursor=cursor, limit=limit, active_only=True)
    stats = await registry.collections_stats([c.name for c in page.items])  # one round trip: kept counts
    items = [CollectionOut(**c.model_dump(), **s._asdict()) for c, s in zip(page.items, stats, strict=True)]
    return Page(items=items, next_cursor=page.next_cursor)


@router.get("/{name}", response_model=CollectionOut)
async def get_collection(name: str, registry: RegistryDep) -> CollectionOut:
    return await _out(registry, await registry.get_active_collection(name))


@router.patch("/{name}", response_model=CollectionOut)
async def patch_collection(name: str, body: CollectionPatch, clients: ClientsDep) -> CollectionOut:
    return await _out(clients.registry, await lifecycle.patch_collection(clients, name, body.metadata))


@router.delete("/{name}", status_code=status.HTTP_202_ACCEPTED, response_model=CollectionDeleted)
async def delete_collection(name: str, clients: ClientsDep) -> CollectionDeleted:
    """Hidden at once (no upload, search or read sees it), then a job deletes its vectors and records.
    Deleting it again returns the same job."""
    job = await lifecycle.delete_collection(clients, name)
    return CollectionDeleted(name=name, job_id=job.id)
