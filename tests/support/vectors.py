"""Vectors written straight into Chroma, behind the registry's back, for the reconciler's tests."""

from orchestrator.core.ids import now_ms
from orchestrator.vectors import VectorStore, vector_id


async def plant_vector(
    store: VectorStore,
    chroma_name: str,
    document_id: str,
    generation: int,
    text: str,
    age_ms: int = 0,
    embedding: list[float] | None = None,
):
    """A vector written behind the registry's back (as a crashed worker or a lost cleanup would leave)."""
    embedding = embedding or [1.0] + [0.0] * 383
    metadata = {
        "document_id": document_id,
        "generation": generation,
        "chunk_index": 0,
        "filename": "x",
        "collection": "c",
        "heading_path": "[]",
        "pages": "[]",
        "ingested_at_ms": now_ms() - age_ms,
    }
    await store.upsert(chroma_name, [vector_id(document_id, generation, 0)], [embedding], [text], [metadata])
