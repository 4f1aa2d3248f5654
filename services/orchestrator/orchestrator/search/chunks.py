"""A document's chunks as search sees them: those of its searchable generation, in order."""

from pydantic import BaseModel

from orchestrator.catalog import DocumentStatus
from orchestrator.clients import Clients
from orchestrator.vectors import ChunkMeta, where_document


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
    the cursor is the index of the page's first chunk."""
    document = await clients.registry.get_document(document_id)
    if document.generation == 0 or document.status is DocumentStatus.deleting:
        return ChunksPage(document_id=document_id, generation=document.generation, chunks=[])
    collection = await clients.registry.get_collection(document.collection)
    records = await clients.vectors.get(
        collection.vector_name, where=where_document(document_id, generation=document.generation)
    )
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
    start = int(cursor) if cursor and cursor.isdigit() else 0
    page = chunks[start : start + limit]
    next_cursor = str(start + limit) if start + limit < len(chunks) else None
    return ChunksPage(
        document_id=document_id, generation=document.generation, chunks=page, next_cursor=next_cursor
    )
