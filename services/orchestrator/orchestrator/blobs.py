"""Original document bytes, kept in Redis with a TTL so that every worker (any process, any host) can
read them, and a re-ingest can run again without a new upload."""

from redis.asyncio import Redis

from orchestrator import keys


class BlobMissing(Exception):
    """The bytes are gone: their TTL ran out, or the document was removed."""


async def put(redis: Redis, document_id: str, data: bytes, *, ttl_s: int) -> None:
    await redis.set(keys.blob(document_id), data, ex=ttl_s)


async def get(redis: Redis, document_id: str) -> bytes:
    # The shared client decodes replies to str; bytes need a raw read of the same key.
    async with redis.pipeline(transaction=False) as pipe:
        pipe.execute_command("GET", keys.blob(document_id), NEVER_DECODE=True)
        (data,) = await pipe.execute()
    if data is None:
        raise BlobMissing(f"the original bytes of document {document_id} are no longer kept")
    return bytes(data)


async def touch(redis: Redis, document_id: str, *, ttl_s: int) -> bool:
    return bool(await redis.expire(keys.blob(document_id), ttl_s))


async def delete(redis: Redis, document_id: str) -> None:
    await redis.delete(keys.blob(document_id))
