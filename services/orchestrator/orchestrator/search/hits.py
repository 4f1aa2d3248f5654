"""A search result, and the one check every result passes, whichever index found it: the registry vouches
for its chunk (document present, in that collection, not being deleted, searchable at exactly the chunk's
generation)."""

from typing import Any

from pydantic import BaseModel, Field

from orchestrator.catalog import Collection, Document, searchable


class Scores(BaseModel):
    """Each side's own score; null where that side did not find the chunk (or did not run)."""

    dense: float | None = None  # cosine similarity
    lexical: float | None = None  # BM25
    fused: float | None = None  # reciprocal rank fusion (hybrid mode only)


class SearchHit(BaseModel):
    chunk_id: str
    document_id: str
    collection: str
    filename: str
    text: str
    score: float  # what the mode ranks by: dense cosine, lexical BM25, or the fused score
    scores: Scores = Field(default_factory=Scores)
    # Character spans [start, end) in `text` of the words that match a query term (after stemming).
    highlights: list[tuple[int, int]] = Field(default_factory=list)
    heading_path: list[str]
    pages: list[int]
    metadata: dict[str, Any] = Field(default_factory=dict)  # the document's user metadata


def vouched_document(
    collection: Collection, document_id: str, generation: int, documents: dict[str, Document | None]
) -> Document | None:
    """The chunk's document, if the registry vouches for the chunk; None when search must not return it."""
    document = documents.get(document_id)
    if document is None or document.collection != collection.name:
        return None
    return document if searchable(document, generation) else None
