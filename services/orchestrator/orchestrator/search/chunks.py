"""A document's chunks as search sees them: those of its searchable generation, in order."""

from pydantic import BaseModel

from orchestrator.catalog import DocumentStatus
from orchestrator.clients import Clients
from orchestrator.core.pagination import offset_cursor
from orchestrator.vectors import ChunkMeta, vector_id


class ChunkOut(BaseModel):
    chunk_id: str
    index: int
    text: str
    heading_path: list[str]
    pages: list[int]


class ChunksPage(BaseModel):
    document_id: str
    generation: int
    chunks: list[ChunkOut]
    next_cursor: str | None = None


async def document_chunks(
    clients: Clients, document_id: str, *, cursor: str | None, limit: int
) -> ChunksPage:
    """One page of the chunks (none before the document is first ready, or while it is being deleted);
    the cursor is the index of the page's first chunk.

    A page reads only its own chunks from Chroma, by id: a generation's chunks are indexes 0 to
    chunk_count - 1 with deterministic ids, so the ids name the page exactly and in order (a `get` with
    where, limit and offset would follow Chroma's storage order, which nothing promises to be ours)."""
    start = offset_cursor(cursor)
    document = await clients.registry.get_document(document_id)
    if document.generation == 0 or document.status is DocumentStatus.deleting:
        return ChunksPage(document_id=document_id, generation=document.generation, chunks=[])
    collection = await clients.registry.get_collection(document.collection)
    end = min(start + limit, document.chunk_count)
    ids = [vector_id(document_id, document.generation, index) for index in range(start, end)]
    records = await clients.vectors.get(collection.vector_name, ids=ids) if ids else []
    chunks = []
    for record in records:
        meta = ChunkMeta.read(record.metadata)
        chunks.append(
            ChunkOut(
                chunk_id=record.id,
                index=meta.chunk_index,
                text=record.text or "",
                heading_path=meta.heading_path,
                pages=meta.pages,
            )
        )
    chunks.sort(key=lambda c: c.index)
    next_cursor = str(end) if end < document.chunk_count else None
    return ChunksPage(
        document_id=document_id, generation=document.generation, chunks=chunks, next_cursor=next_cursor
    )
