"""Uploads from hostile or unlucky clients, as HTTP sees them: refused uploads (a duplicate, metadata
Chroma would refuse, an empty file, malformed bodies) answer a 4xx and leave no blob behind, and an
upload's password stays out of its fields."""

import json

import httpx
import pytest

from tests.support import assert_error
from tests.support.api import API, create_collection, ingest, upload, wait_document
from tests.support.blobs import originals, staged_files

TEXT = b"# Harbour\n\nThe harbour crane lifts shipping containers at dawn.\n"


async def test_refused_uploads_leave_no_blob(api: httpx.AsyncClient) -> None:
    await create_collection(api, "refused")
    before = originals()
    first = await upload(api, "refused", "a.md", TEXT)
    assert first.status_code == 202
    assert_error(await upload(api, "refused", "again.md", TEXT), 409, "duplicate")
    assert_error(
        await upload(api, "refused", "b.md", b"other", metadata=json.dumps({"chroma:document": "x"})),
        422,
        "invalid_metadata",
    )
    assert_error(await upload(api, "refused", "empty.md", b""), 422, "empty_document")
    assert staged_files() == []
    await wait_document(api, first.json()["document_id"])
    assert originals() - before == {first.json()["document_id"]}


@pytest.mark.parametrize(
    "metadata",
    [
        {"chroma:document": "x"},
        {"document_id": "spoofed"},  # a reserved field every vector sets
        {"": "empty key"},
        {"$and": 1},
        {"big": 2**63},
        {"small": -(2**63) - 1},
        {"nested": {"big": 2**64}},
        {"deep": [[[[["five levels"]]]]]},
        {"k" * 129: 1},
        {"long": "x" * 5000},
        {"null": None},
        {f"k{i}": i for i in range(65)},
    ],
    ids=lambda m: next(iter(m))[:12] if len(m) == 1 else f"{len(m)}-keys",
)
async def test_metadata_chroma_would_refuse_is_422_at_upload_and_on_patch(
    api: httpx.AsyncClient, metadata: dict
) -> None:
    await create_collection(api, "meta-refused")
    raw = json.dumps(metadata)
    assert_error(await upload(api, "meta-refused", "m.md", TEXT, metadata=raw), 422, "invalid_metadata")
    if "null" in metadata:
        return  # null removes a key in a patch: allowed there
    document = await ingest(api, "meta-refused", "ok.md", TEXT, metadata=json.dumps({"team": "a"}))
    patch = await api.patch(f"{API}/documents/{document['id']}", json={"metadata": metadata})
    assert_error(patch, 422, "invalid_metadata")
    assert (await api.get(f"{API}/documents/{document['id']}")).json()["metadata"] == {"team": "a"}
    assert staged_files() == []


async def test_non_finite_numbers_in_metadata_are_422(api: httpx.AsyncClient) -> None:
    await create_collection(api, "meta-nan")
    for raw in ('{"x": NaN}', '{"x": Infinity}', '{"x": 1e400}'):
        assert_error(await upload(api, "meta-nan", "m.md", TEXT, metadata=raw), 422, "invalid_metadata")
    deep = "[" * 30_000 + "]" * 30_000  # within the field's cap, past what the JSON parser can follow
    assert_error(await upload(api, "meta-nan", "m.md", TEXT, metadata=deep), 422, "invalid_request")


@pytest.mark.parametrize("boundary_chars", [257, 1000])
async def test_an_overlong_multipart_boundary_is_422(api: httpx.AsyncClient, boundary_chars: int) -> None:
    await create_collection(api, "boundary")
    boundary = "b" * boundary_chars
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.md"\r\n\r\n'
        f"hello\r\n--{boundary}--\r\n"
    ).encode()
    response = await api.post(
        f"{API}/collections/boundary/documents",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_error(response, 422, "invalid_request")
    assert staged_files() == []


def test_an_uploads_password_is_not_in_its_fields_or_repr() -> None:
    from orchestrator.api.multipart_upload import Upload

    upload_ = Upload(staged=None, fields={"metadata": "{}"}, password="s3cret-pw")  # type: ignore[arg-type]
    assert "s3cret-pw" not in repr(upload_) and "password" not in upload_.fields
