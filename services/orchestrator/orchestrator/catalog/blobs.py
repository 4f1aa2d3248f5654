"""Original document bytes, kept in Redis with a TTL so that every worker (any process, any host) can
read them, and a re-ingest can run again without a new upload."""

from redis.asyncio import Redis

from orchestrator.core import keys


class BlobMissing(Exception):
    """The bytes are gone: their TTL ran out, or the document was removed."""


class BlobStore:
    def __init__(self, redis: Redis, *, ttl_s: int):
        self._redis = redis
        self.ttl_s = ttl_s

    async def put(self, document_id: str, data: bytes) -> None:
        await self._redis.set(keys.blob(document_id), data, ex=self.ttl_s)

    async def get(self, document_id: str) -> bytes:
        # The shared client decodes replies to str; bytes need a raw read of the same key.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.execute_command("GET", keys.blob(document_id), NEVER_DECODE=True)
            (data,) = await pipe.execute()
        if data is None:
            raise BlobMissing(f"the original bytes of document {document_id} are no longer kept")
        return bytes(data)

    async def touch(self, document_id: str) -> bool:
        """Restarts the bytes' TTL; False when they are gone."""
        return bool(await self._redis.expire(keys.blob(document_id), self.ttl_s))

    async def delete(self, document_id: str) -> None:
        await self._redis.delete(keys.blob(document_id))
