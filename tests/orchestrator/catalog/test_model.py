"""The catalog's pieces without Redis: the document and collection state machines, the records."""

import pytest

from orchestrator.catalog import Collection, CollectionStatus, Document, DocumentStatus
from orchestrator.catalog.transitions import DOCUMENT_TRANSITIONS, check_collection, check_document
from orchestrator.errors import IllegalTransition


@pytest.mark.parametrize("current", list(DocumentStatus))
@pytest.mark.parametrize("target", list(DocumentStatus))
def test_every_document_transition_is_allowed_or_refused(
    current: DocumentStatus, target: DocumentStatus
) -> None:
    if target in DOCUMENT_TRANSITIONS[current]:
        check_document("d", current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_document("d", current, target)


def test_deleting_leads_nowhere() -> None:
    with pytest.raises(IllegalTransition):
        check_document("d", DocumentStatus.deleting, DocumentStatus.ready)
    with pytest.raises(IllegalTransition):
        check_collection("c", CollectionStatus.deleting, CollectionStatus.active)


def test_a_collection_names_its_vectors() -> None:
    assert Collection(name="docs", chroma_name="docs-1a2b3c4d").vector_name == "docs-1a2b3c4d"
    assert Collection(name="legacy").vector_name == "legacy"  # made before chroma_name existed


def test_a_document_survives_the_trip_through_a_redis_hash() -> None:
    document = Document(
        collection="docs", filename="a.pdf", sha256="0" * 64, size_bytes=3, metadata={"tags": ["x"], "n": 2}
    )
    stored = document.to_redis()
    assert stored["metadata"] == '{"tags":["x"],"n":2}' and "error" not in stored
    assert Document.from_redis(stored) == document
