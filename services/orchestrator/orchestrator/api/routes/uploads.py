"""POST /api/v1/collections/{name}/documents: a multipart upload becomes a queued document and its job
(orchestrator.ingest.uploads). The collection is checked before the body is read; the body is read from
the stream into a staged blob with the size limit enforced as it arrives (multipart_upload); metadata the
vector store would refuse is 422 invalid_metadata."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import JSONResponse

import orchestrator.api.ratelimit as ratelimit
from contracts import ChunkOptions
from orchestrator.api.deps import ClientsDep
from orchestrator.api.errors import ApiError
from orchestrator.api.multipart_upload import read_upload
from orchestrator.api.schemas import UploadAccepted
from orchestrator.ingest import uploads
from orchestrator.ingest.uploads import NewUpload, OnDuplicate
from orchestrator.vectors import check_user_metadata

router = APIRouter(tags=["documents"])

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
                        "password": {
                            "type": "string",
                            "format": "password",
                            "description": "opens an encrypted PDF; used by this upload's job only, never kept",
                        },
                    },
                }
            }
        },
    }
}


def _json_field(fields: dict[str, str], name: str) -> dict[str, Any]:
    raw = fields.get(name)
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested past what the parser can follow
        raise ApiError(422, "invalid_request", f"{name!r} must be a JSON object") from None
    if not isinstance(value, dict):
        raise ApiError(422, "invalid_request", f"{name!r} must be a JSON object")
    return value


async def _read(request: Request, clients: ClientsDep) -> NewUpload:
    """The multipart body as an upload: the file (in a staged blob), and its metadata, chunking,
    on_duplicate and password fields."""
    upload = await read_upload(request, clients.blobs, max_file_bytes=clients.settings.max_upload_bytes)
    try:
        metadata = check_user_metadata(_json_field(upload.fields, "metadata"), allow_none=False)
        try:
            chunking = ChunkOptions.model_validate(_json_field(upload.fields, "chunking"))
            policy = OnDuplicate(upload.fields.get("on_duplicate") or OnDuplicate.reject)
        except ValueError as exc:
            raise ApiError(422, "invalid_request", f"invalid chunking or on_duplicate: {exc}") from None
    except BaseException:
        await clients.blobs.discard(upload.staged)
        raise
    return NewUpload(
        filename=upload.filename,
        staged=upload.staged,
        sha256=upload.sha256,
        metadata=metadata,
        chunking=chunking,
        on_duplicate=policy,
        password=upload.password,
    )


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
    clients: ClientsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Response:
    accepted = await uploads.upload(
        clients,
        name,
        lambda: _read(request, clients),
        idempotency_key=idempotency_key,
        scope=ratelimit.client_id(request),
    )
    body = UploadAccepted(
        document_id=accepted.document_id, job_id=accepted.job_id, duplicate=accepted.duplicate
    )
    return JSONResponse(
        body.model_dump(),
        status_code=202 if accepted.queued else 200,
        headers={"Location": f"/api/v1/documents/{accepted.document_id}"},
    )
