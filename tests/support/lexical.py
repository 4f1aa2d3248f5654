"""Helpers for tests of the lexical index and its follower on a real Redis and a real Chroma: documents
committed through the real registry (whose transactions write the change stream), their vectors
written through the real vector store."""

import asyncio
import math
import uuid
from collections.abc import Sequence

from redis.asyncio import Redis

from contracts import Chunk
from orchestrator.catalog import Collection, Document, changes, generations
from orchestrator.clients import Clients
from orchestrator.core.ids import new_id, now_ms
from orchestrator.search.lexical import LexicalFollower, LexicalIndex, query_terms
from orchestrator.settings import Settings
from orchestrator.vectors import chunk_metadata, vector_id
from tests.support.job_queue import wait_until

DIM = 4
BLOCK_MS = 100  # short blocking reads, so that a stop or a new change is seen soon


def unit_vector(i: int) -> list[float]:
    values = [1.0, (i % 7) + 1.0, (i % 3) * 0.5, 0.1]
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


async def build_clients(settings: Settings, redis: Redis, chroma_url: str, **overrides: object) -> Clients:
    return Clients.build(settings.model_copy(update={"chroma_url": chroma_url, **overrides}), redis)


async def close_clients(clients: Clients) -> None:
    await clients.vectors.close()
    await clients.compute.close()  # the redis fixture closes Redis


async def make_collection(clients: Clients, name: str | None = None) -> Collection:
    name = name or f"c-{uuid.uuid4().hex[:8]}"
    chroma_name = f"{name}-{uuid.uuid4().hex[:8]}"
    await clients.vectors.create_collection(chroma_name, dim=DIM, model="test-model")
    return await clients.registry.create_collection(
        Collection(name=name, embedding_model="test-model", dim=DIM, chroma_name=chroma_name)
    )


async def write_vectors(
    clients: Clients, collection: Collection, document: Document, generation: int, texts: Sequence[str]
) -> None:
    chunks = [
        Chunk(
            index=i,
            text=t,
            heading_path=["Manual", "Café"],
            pages=[i + 1],
            char_start=0,
            char_end=len(t),
            token_count=1,
        )
        for i, t in enumerate(texts)
    ]
    await clients.vectors.upsert(
        collection.vector_name,
        [vector_id(document.id, generation, c.index) for c in chunks],
        [unit_vector(c.index) for c in chunks],
        [c.text for c in chunks],
        [
            chunk_metadata(
                c,
                document_id=document.id,
                generation=generation,
                filename=document.filename,
                collection=collection.name,
                metadata={},
                ingested_at_ms=now_ms(),
            )
            for c in chunks
        ],
    )


async def ingest(
    clients: Clients, collection: Collection, texts: Sequence[str], document: Document | None = None
) -> Document:
    """What the saga does: begin a generation, write its vectors, commit it ready (which records the change)."""
    if document is None:
        document = await clients.registry.add_document(
            Document(
                collection=collection.name, filename="manual.txt", sha256=uuid.uuid4().hex, size_bytes=10
            )
        )
    else:
        await generations.mark_queued(clients.redis, document.id)
    job_id = new_id()
    begun = await generations.begin(clients.redis, document.id, job_id)
    await write_vectors(clients, collection, document, begun.generation, texts)
    return await generations.commit_ready(
        clients.redis,
        document.id,
        job_id,
        begun.generation,
        chunk_count=len(texts),
        pages=len(texts),
        format="text",
    )


async def search(index: LexicalIndex, query: str, *collections: str) -> list[str]:
    hits = await asyncio.to_thread(index.search, list(collections), query_terms(query), 10)
    return [h.chunk_id for h in hits]


async def applied_everything(follower: LexicalFollower, redis: Redis) -> None:
    """Waits until the follower is caught up and has applied the newest change there is."""
    last = (await changes.head(redis)).last_id

    async def done() -> bool:
        return follower.caught_up and not changes.newer(last, follower.applied_id)

    await wait_until(done, what=f"the follower to apply {last}")
