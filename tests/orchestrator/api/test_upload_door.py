"""The upload cap at the door: the API refuses what compute would refuse (one default for both), counted
while the body streams, and a refused upload leaves nothing in the registry or the blob store."""

import httpx
from redis.asyncio import Redis

from contracts import MAX_DOCUMENT_BYTES
from orchestrator.catalog import Registry
from orchestrator.settings import Settings
from tests.support import assert_error
from tests.support.api import API, create_collection, running_app, upload
from tests.support.blobs import originals, staged_files

CAP = 50_000


def test_the_api_and_compute_share_one_upload_cap() -> None:
    assert Settings.model_fields["max_upload_bytes"].default == MAX_DOCUMENT_BYTES == 64 * 1024**2


async def _chunked(client: httpx.AsyncClient, collection: str, size: int) -> httpx.Response:
    boundary = "d00r"

    async def body():
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n'.encode()
        for _ in range(size // 1000):
            yield b"y" * 1000
        yield f"\r\n--{boundary}--\r\n".encode()

    return await client.post(
        f"{API}/collections/{collection}/documents",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )


async def test_an_upload_over_the_cap_is_413_and_stores_nothing(api_settings: Settings, redis: Redis) -> None:
    settings = api_settings.model_copy(update={"max_upload_bytes": CAP, "api_workers": 0})
    registry = Registry(redis)
    async with running_app(settings) as (_, client):
        await create_collection(client, "door")
        before = originals()
        over = CAP + 1_000
        assert_error(
            await upload(client, "door", "big.txt", b"x" * over, metadata='{"k": 1}'), 413, "too_large"
        )
        streamed = await _chunked(client, "door", over)
        assert "content-length" not in streamed.request.headers
        assert_error(streamed, 413, "too_large")
        # Nothing of either: no record, no count, no original, nothing staged.
        assert (await registry.list_documents(collection="door")).items == []
        assert (await registry.collection_stats("door")).document_count == 0
        assert originals() == before and staged_files() == []
        fits = await upload(client, "door", "ok.txt", b"z" * (CAP - 1_000))
        assert fits.status_code == 202, fits.text
