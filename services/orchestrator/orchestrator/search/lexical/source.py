"""What the lexical index is derived from: the registry's active collections and searchable documents,
and the chunk texts of a generation, read from Chroma by their deterministic ids."""

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from orchestrator.catalog import Collection, CollectionStatus, Document, searchable
from orchestrator.clients import Clients
from orchestrator.errors import NotFound
from orchestrator.search.lexical.index import IndexedChunk
from orchestrator.vectors import ChunkMeta, parse_vector_id, vector_id

FETCH_PAGE = 500  # vector ids per Chroma get
LIST_PAGE = 200  # registry records per listing page during a rebuild


@dataclass(frozen=True)
class Wanted:
    """A document's generation to read: its chunks are indexes 0 to chunk_count - 1."""

    document_id: str
    generation: int
    chunk_count: int


class ChunkSource:
    def __init__(self, clients: Clients):
        self._clients = clients

    async def active_collection(self, name: str) -> Collection | None:
        try:
            collection = await self._clients.registry.get_collection(name)
        except NotFound:
            return None
        return collection if collection.status is CollectionStatus.active else None

    async def fetch_chunks(self, chroma_name: str, wanted: Sequence[Wanted]) -> dict[str, list[IndexedChunk]]:
        """The chunks of these documents' generations, by document, in chunk order. Records Chroma does
        not return are left out (a later change supersedes them)."""
        ids = [vector_id(w.document_id, w.generation, i) for w in wanted for i in range(w.chunk_count)]
        found: dict[str, list[IndexedChunk]] = defaultdict(list)
        for start in range(0, len(ids), FETCH_PAGE):
            for record in await self._clients.vectors.get(chroma_name, ids=ids[start : start + FETCH_PAGE]):
                document_id, _, chunk_index = parse_vector_id(record.id)
                meta = ChunkMeta.read(record.metadata)
                found[document_id].append(
                    IndexedChunk(
                        chunk_id=record.id,
                        chunk_index=chunk_index,
                        text=record.text,
                        heading_path=[str(h) for h in meta.heading_path],
                        pages=[p for p in meta.pages if isinstance(p, int)],
                    )
                )
        for chunks in found.values():
            chunks.sort(key=lambda c: c.chunk_index)
        return found

    async def active_collections(self) -> AsyncIterator[Collection]:
        cursor: str | None = None
        while True:
            page = await self._clients.registry.list_collections(
                cursor=cursor, limit=LIST_PAGE, active_only=True
            )
            for collection in page.items:
                yield collection
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def searchable_documents(self, collection: str) -> AsyncIterator[Document]:
        cursor: str | None = None
        while True:
            page = await self._clients.registry.list_documents(
                collection=collection, cursor=cursor, limit=LIST_PAGE
            )
            for document in page.items:
                if searchable(document, document.generation):
                    yield document
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
