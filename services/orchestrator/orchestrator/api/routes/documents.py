"""/api/v1/documents: list (filters), get, chunks (the searchable generation), patch metadata (registry
and Chroma), delete (hidden from search at once, then a job removes vectors and record), re-ingest, and
the original's download."""

from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import StreamingResponse

import orchestrator.api.ratelimit as ratelimit
from orchestrator.api.deps import ClientsDep, DocumentId, RegistryDep
from orchestrator.api.errors import ApiError
from orchestrator.api.schemas import DocumentPatch, JobAccepted, ReingestRequest
from orchestrator.catalog import Document, DocumentStatus
from orchestrator.core.pagination import Page
from orchestrator.ingest import metadata, operations
from orchestrator.search import ChunksPage, document_chunks

router = APIRouter(prefix="/documents", tags=["documents"])


def _metadata_filter(pairs: list[str] | None) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ApiError(422, "invalid_request", f"metadata filter {pair!r} is not key=value")
        wanted[key] = value
    return wanted


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
    return await registry.list_documents(
        collection=collection,
        status=status,
        filename_contains=filename,
        metadata_equals=_metadata_filter(metadata),
        cursor=cursor,
        limit=limit,
    )


@router.get("/{document_id}", response_model=Document)
async def get_document(document_id: DocumentId, registry: RegistryDep) -> Document:
    return await registry.get_document(document_id)


@router.get(
    "/{document_id}/original",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_original(document_id: str, clients: ClientsDep) -> StreamingResponse:
    """The uploaded bytes, streamed from the blob store, while they are kept (they are what a re-ingest
    reads; with ORCH_KEEP_ORIGINALS=false they go once the document is ready: 409 original_not_kept)."""
    document, chunks = await operations.original(clients, document_id)
    headers = {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.filename)}",
        "Content-Length": str(document.size_bytes),
    }
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.get("/{document_id}/chunks", response_model=ChunksPage)
async def list_document_chunks(
    document_id: DocumentId,
    clients: ClientsDep,
    cursor: str | None = Query(None, description="the next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
) -> ChunksPage:
    """The chunks of the searchable generation, in order (none before the document is first ready)."""
    return await document_chunks(clients, document_id, cursor=cursor, limit=limit)


@router.patch("/{document_id}", response_model=Document, dependencies=[Depends(ratelimit.uploads)])
async def patch_document(document_id: str, body: DocumentPatch, clients: ClientsDep) -> Document:
    """Merges metadata (a null value removes a key), in the registry and on the searchable vectors."""
    return await metadata.patch_metadata(clients, document_id, body.metadata)


@router.delete("/{document_id}", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
async def delete_document(document_id: str, clients: ClientsDep) -> JobAccepted:
    """Hidden from search and listings' status at once (`deleting`), then a job deletes its vectors and
    record. Deleting it again returns the same job."""
    job = await operations.delete_document(clients, document_id)
    return JobAccepted(job_id=job.id, document_id=document_id)


@router.post(
    "/{document_id}/reingest",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    dependencies=[Depends(ratelimit.uploads)],
)
async def reingest_document(
    document_id: str, clients: ClientsDep, body: ReingestRequest | None = None
) -> JobAccepted:
    """Parses, chunks and embeds the kept original again as a new generation; the current one stays
    searchable until the new one is ready. `password` opens an encrypted PDF, for this job only; 409
    original_not_kept when the original is gone."""
    body = body or ReingestRequest()
    password = body.password.get_secret_value() if body.password else None
    job = await operations.reingest_document(clients, document_id, body.chunking, password=password)
    return JobAccepted(job_id=job.id, document_id=document_id)
