"""/api/v1/documents: list (filters), get, chunks (the searchable generation, from Chroma), patch metadata
(registry and Chroma), delete (hidden from search at once, then a job removes vectors and record),
re-ingest."""

from urllib.parse import quote

from fastapi import APIRouter, Query, Response, status

from orchestrator import blobs, chunk_meta
from orchestrator.api.deps import RegistryDep, ServicesDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import ChunkOut, ChunksPage, DocumentPatch, JobAccepted, ReingestRequest
from orchestrator.api.uploads import reingest
from orchestrator.errors import IllegalTransition, NotFound
from orchestrator.records import Document, DocumentStatus, JobType, Page, Priority
from orchestrator.registry import Registry

router = APIRouter(prefix="/documents", tags=["documents"])


async def get_or_404(registry: Registry, document_id: str) -> Document:
    try:
        return await registry.get_document(document_id)
    except NotFound:
        raise ApiError(404, "not_found", f"document {document_id!r} not found") from None


@router.get("", response_model=Page[Document])
async def list_documents(
    registry: RegistryDep,
    collection: str | None = None,
    status: DocumentStatus | None = None,
    filename: str | None = Query(None, description="case-insensitive substring of the filename"),
    metadata: list[str] | None = Query(None, description="key=value, repeatable: user metadata equal to it"),
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
) -> Page[Document]:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    wanted: dict[str, str] = {}
    for pair in metadata or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ApiError(422, "invalid_request", f"metadata filter {pair!r} is not key=value")
        wanted[key] = value
    return await registry.list_documents(
        collection=collection, status=status, filename_contains=filename, metadata_equals=wanted,
        cursor=cursor, limit=limit,
    )


@router.get("/{document_id}", response_model=Document)
async def get_document(document_id: str, registry: RegistryDep) -> Document:
    return await get_or_404(registry, document_id)


@router.get(
    "/{document_id}/original",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_original(document_id: str, s: ServicesDep) -> Response:
    """The uploaded bytes, while they are kept (ORCH_BLOB_TTL_S; they are what a re-ingest reads)."""
    document = await get_or_404(s.registry, document_id)
    try:
        data = await blobs.get(s.redis, document_id)
    except blobs.BlobMissing:
        raise ApiError(
            404, "not_found", f"the original of document {document_id!r} is no longer kept"
        ) from None
    disposition = f"attachment; filename*=UTF-8''{quote(document.filename)}"
    return Response(data, media_type="application/octet-stream", headers={"Content-Disposition": disposition})


@router.get("/{document_id}/chunks", response_model=ChunksPage)
async def document_chunks(
    document_id: str,
    s: ServicesDep,
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> ChunksPage:
    """The chunks of the searchable generation, in order (none before the document is first ready)."""
    document = await get_or_404(s.registry, document_id)
    if document.generation == 0 or document.status is DocumentStatus.deleting:
        return ChunksPage(document_id=document_id, generation=document.generation, chunks=[])
    collection = await s.registry.get_collection(document.collection)
    records = await s.vectors.get(
        collection.chroma_name or collection.name,
        where=chunk_meta.where_document(document_id, generation=document.generation),
    )
    chunks = []
    for record in records:
        meta = chunk_meta.decode(record.metadata)
        chunks.append(
            ChunkOut(
                chunk_id=record.id,
                index=int(meta.get("chunk_index", 0)),
                text=record.text or "",
                heading_path=meta["heading_path"],
                pages=meta["pages"],
            )
        )
    chunks.sort(key=lambda c: c.index)
    start = int(cursor) if cursor and cursor.isdigit() else 0
    page = chunks[start : start + limit]
    next_cursor = str(start + limit) if start + limit < len(chunks) else None
    return ChunksPage(
        document_id=document_id, generation=document.generation, chunks=page, next_cursor=next_cursor
    )


@router.patch("/{document_id}", response_model=Document)
async def patch_document(document_id: str, body: DocumentPatch, s: ServicesDep) -> Document:
    """Merges metadata (a null value removes a key), in the registry and on the searchable vectors."""
    document = await get_or_404(s.registry, document_id)
    if document.status is DocumentStatus.deleting:
        raise ApiError(404, "not_found", f"document {document_id!r} is being deleted")
    merged = {k: v for k, v in {**document.metadata, **body.metadata}.items() if v is not None}
    updated = await s.registry.update_document(document_id, metadata=merged)
    if updated.generation > 0:
        collection = await s.registry.get_collection(document.collection)
        chroma = collection.chroma_name or collection.name
        records = await s.vectors.get(
            chroma, where=chunk_meta.where_document(document_id, generation=updated.generation)
        )
        if records:
            removed = {k: None for k in document.metadata if k not in merged and k not in chunk_meta.RESERVED}
            metadatas = [
                {
                    **(r.metadata or {}),
                    **removed,
                    **chunk_meta.user_metadata(merged),
                    **{k: (r.metadata or {})[k] for k in chunk_meta.RESERVED if k in (r.metadata or {})},
                }
                for r in records
            ]
            await s.vectors.update_metadata(chroma, [r.id for r in records], metadatas)
    return updated


@router.delete("/{document_id}", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
async def delete_document(document_id: str, s: ServicesDep) -> JobAccepted:
    """Hidden from search and listings' status at once (`deleting`), then a job deletes its vectors and
    record. Deleting it again returns the same job."""
    document = await get_or_404(s.registry, document_id)
    if document.status is not DocumentStatus.deleting:
        try:
            await s.registry.update_document(document_id, status=DocumentStatus.deleting)
        except IllegalTransition:
            pass
        if document.job_id and document.status in (DocumentStatus.queued, DocumentStatus.processing):
            try:
                await s.queue.cancel(document.job_id)  # its commit would be refused anyway: save the work
            except Exception:
                pass
    enqueued = await s.queue.enqueue(
        JobType.delete_document,
        {"document_id": document_id},
        priority=Priority.high,
        collection=document.collection,
        document_id=document_id,
        idempotency_key=f"delete_document:{document_id}",
    )
    return JobAccepted(job_id=enqueued.job.id, document_id=document_id)


@router.post("/{document_id}/reingest", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
async def reingest_document(
    document_id: str, s: ServicesDep, body: ReingestRequest | None = None
) -> JobAccepted:
    """Parses, chunks and embeds the kept original again as a new generation; the current one stays
    searchable until the new one is ready."""
    document = await get_or_404(s.registry, document_id)
    if document.status is DocumentStatus.deleting:
        raise ApiError(404, "not_found", f"document {document_id!r} is being deleted")
    chunking = body.chunking.model_dump(exclude_none=True) if body and body.chunking else None
    job_id = await reingest(s, document, chunking)
    return JobAccepted(job_id=job_id, document_id=document_id)
