"""POST /api/v1/collections/{name}/documents: a multipart upload becomes a queued document and its job.

The collection is checked before the body is read; the body is read from the stream with the size limit
enforced as it arrives (multipart_upload). Duplicates (same sha256 in the collection) follow
`on_duplicate`; an `Idempotency-Key` seen before returns the job it made, without a second document.
"""

import asyncio
import json
import posixpath
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import JSONResponse

from orchestrator import blobs, doc_state, keys
from orchestrator.api import ratelimit
from orchestrator.api.collections import active_collection
from orchestrator.api.deps import ServicesDep
from orchestrator.api.errors import ApiError
from orchestrator.api.multipart_upload import read_upload
from orchestrator.api.schemas import ChunkingOptions, OnDuplicate, UploadAccepted
from orchestrator.errors import Conflict, NotFound
from orchestrator.records import Collection, Document, JobType
from orchestrator.services import Services

router = APIRouter(tags=["documents"])

LOCK_WAIT_S = 30.0

_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "metadata": {"type": "string", "description": "a JSON object"},
                        "chunking": {"type": "string", "description": 'JSON: {"strategy", "max_tokens"}'},
                        "on_duplicate": {"type": "string", "enum": [p.value for p in OnDuplicate]},
                    },
                }
            }
        },
    }
}


def safe_filename(raw: str | None) -> str:
    """A filename is metadata only: its last path component, without control characters."""
    name = posixpath.basename((raw or "").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "document"


def _json_field(fields: dict[str, str], name: str) -> dict[str, Any]:
    raw = fields.get(name)
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ApiError(422, "invalid_request", f"{name!r} must be a JSON object") from None
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_request", f"{name!r} must be a JSON object")
    return value


def _options(fields: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], OnDuplicate]:
    metadata = _json_field(fields, "metadata")
    try:
        chunking = ChunkingOptions.model_validate(_json_field(fields, "chunking")).model_dump(
            exclude_none=True
        )
        policy = OnDuplicate(fields.get("on_duplicate") or OnDuplicate.reject)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", f"invalid chunking or on_duplicate: {exc}") from None
    return metadata, chunking, policy


def accepted(
    document_id: str, job_id: str | None, *, duplicate: bool = False, code: int = 202
) -> JSONResponse:
    body = UploadAccepted(document_id=document_id, job_id=job_id, duplicate=duplicate)
    return JSONResponse(
        body.model_dump(), status_code=code, headers={"Location": f"/api/v1/documents/{document_id}"}
    )


async def _known_key(s: Services, key: str) -> JSONResponse | None:
    job_id = await s.redis.get(keys.idempotency(key))
    if job_id is None:
        return None
    try:
        job = await s.queue.get(job_id)
    except NotFound:
        return None
    return accepted(job.document_id or "", job.id)


async def reingest(
    s: Services, document: Document, chunking: dict[str, Any] | None, *, idempotency_key: str | None = None
) -> str:
    """Queues a re-ingest of a document from its kept bytes; the old generation serves until it is done."""
    if not await blobs.touch(s.redis, document.id, ttl_s=s.settings.blob_ttl_s):
        raise ApiError(409, "conflict", f"the original bytes of document {document.id} are no longer kept")
    try:
        await doc_state.mark_queued(s.redis, document.id)
    except (Conflict, NotFound) as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    enqueued = await s.queue.enqueue(
        JobType.reingest,
        {"document_id": document.id, "chunking": chunking or {}},
        collection=document.collection,
        document_id=document.id,
        idempotency_key=idempotency_key,
    )
    await doc_state.attach_job(s.redis, document.id, enqueued.job.id)
    return enqueued.job.id


@router.post(
    "/collections/{name}/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadAccepted,
    openapi_extra=_UPLOAD_SCHEMA,
    responses={200: {"model": UploadAccepted, "description": "on_duplicate=skip: the existing document"}},
    dependencies=[Depends(ratelimit.uploads)],
)
async def upload_document(
    name: str,
    request: Request,
    s: ServicesDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    collection = await active_collection(s.registry, name)
    if not idempotency_key:
        return await _upload(s, collection, request, None)
    scoped_key = f"upload:{name}:{idempotency_key}"
    lock = keys.idempotency_lock(scoped_key)
    deadline = time.monotonic() + LOCK_WAIT_S
    while not await s.redis.set(lock, "1", nx=True, px=round(LOCK_WAIT_S * 1000)):
        # The same key is being handled right now: answer with its job once it has one.
        if known := await _known_key(s, scoped_key):
            return known
        if time.monotonic() > deadline:
            raise ApiError(
                409, "conflict", "a request with this Idempotency-Key is still running", retryable=True
            )
        await asyncio.sleep(0.05)
    try:
        if known := await _known_key(s, scoped_key):
            return known
        return await _upload(s, collection, request, scoped_key)
    finally:
        await s.redis.delete(lock)


async def _upload(s: Services, collection: Collection, request: Request, scoped_key: str | None) -> Response:
    name = collection.name
    upload = await read_upload(request, max_file_bytes=s.settings.max_upload_bytes)
    metadata, chunking, policy = _options(upload.fields)
    if not upload.data:
        raise ApiError(422, "empty_document", "the uploaded file is empty")

    existing = await s.registry.find_by_sha256(collection.name, upload.sha256)
    if existing is not None and existing.status != "deleting":
        if policy is OnDuplicate.reject:
            raise ApiError(
                409,
                "duplicate",
                f"this file is already document {existing.id}",
                extra={"document_id": existing.id},
            )
        if policy is OnDuplicate.skip:
            return accepted(existing.id, existing.job_id, duplicate=True, code=200)
        if existing.status in ("queued", "processing"):
            raise ApiError(
                409,
                "conflict",
                f"document {existing.id} is being ingested now",
                extra={"document_id": existing.id},
            )
        await blobs.put(s.redis, existing.id, bytes(upload.data), ttl_s=s.settings.blob_ttl_s)
        if metadata:
            await s.registry.update_document(existing.id, metadata={**existing.metadata, **metadata})
        job_id = await reingest(s, existing, chunking, idempotency_key=scoped_key)
        return accepted(existing.id, job_id, duplicate=True)

    document = Document(
        collection=collection.name,
        filename=safe_filename(upload.filename),
        sha256=upload.sha256,
        size_bytes=len(upload.data),
        metadata=metadata,
    )
    await blobs.put(s.redis, document.id, bytes(upload.data), ttl_s=s.settings.blob_ttl_s)
    try:
        await s.registry.add_document(document)
    except NotFound:
        await blobs.delete(s.redis, document.id)
        raise ApiError(404, "not_found", f"collection {name!r} not found") from None
    except Conflict as exc:
        await blobs.delete(s.redis, document.id)
        raise ApiError(404, "not_found", f"collection {name!r} not found ({exc})") from None
    enqueued = await s.queue.enqueue(
        JobType.ingest,
        {"document_id": document.id, "chunking": chunking},
        collection=collection.name,
        document_id=document.id,
        idempotency_key=scoped_key,
    )
    if not enqueued.created:  # the same key raced this request: its document is the one
        await blobs.delete(s.redis, document.id)
        await s.registry.remove_document(document.id)
        return accepted(enqueued.job.document_id or "", enqueued.job.id)
    await doc_state.attach_job(s.redis, document.id, enqueued.job.id)
    return accepted(document.id, enqueued.job.id)
