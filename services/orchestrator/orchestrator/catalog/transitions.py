"""Which status changes are legal for documents and collections (the job table is jobs.transitions)."""

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from orchestrator.catalog.model import CollectionStatus, DocumentStatus
from orchestrator.errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)

D = DocumentStatus
DOCUMENT_TRANSITIONS: Mapping[DocumentStatus, frozenset[DocumentStatus]] = {
    # queued -> ready: back as it was, when the request that queued it was refused before its job was.
    D.queued: frozenset({D.processing, D.ready, D.failed, D.cancelled, D.deleting}),
    # processing -> processing: a reclaimed job starts over; -> queued: its job waits for a retry.
    D.processing: frozenset({D.processing, D.queued, D.ready, D.failed, D.cancelled, D.deleting}),
    D.ready: frozenset({D.queued, D.deleting}),  # queued again: a re-ingest
    D.failed: frozenset({D.queued, D.deleting}),
    D.cancelled: frozenset({D.queued, D.deleting}),
    D.deleting: frozenset(),
}

C = CollectionStatus
COLLECTION_TRANSITIONS: Mapping[CollectionStatus, frozenset[CollectionStatus]] = {
    C.active: frozenset({C.deleting}),
    C.deleting: frozenset(),
}


def check(table: Mapping[S, frozenset[S]], kind: str, record_id: str, current: S, target: S) -> None:
    if target not in table[current]:
        raise IllegalTransition(kind, record_id, current, target)


def check_document(document_id: str, current: DocumentStatus, target: DocumentStatus) -> None:
    check(DOCUMENT_TRANSITIONS, "document", document_id, current, target)


def check_collection(name: str, current: CollectionStatus, target: CollectionStatus) -> None:
    check(COLLECTION_TRANSITIONS, "collection", name, current, target)
