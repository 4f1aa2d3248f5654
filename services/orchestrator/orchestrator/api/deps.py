"""`Annotated` dependency aliases for the routes: the process's shared clients, from app.state, and the
path parameters every route checks the same way."""

from typing import Annotated

from fastapi import Depends, Path, Request

from orchestrator.catalog import Registry
from orchestrator.clients import Clients
from orchestrator.core.ids import RECORD_ID_PATTERN
from orchestrator.jobs import EventHub, JobQueue


def _clients(request: Request) -> Clients:
    return request.app.state.clients


ClientsDep = Annotated[Clients, Depends(_clients)]


def _registry(clients: ClientsDep) -> Registry:
    return clients.registry


def _queue(clients: ClientsDep) -> JobQueue:
    return clients.queue


def _event_hub(request: Request) -> EventHub:
    return request.app.state.event_hub


RegistryDep = Annotated[Registry, Depends(_registry)]
QueueDep = Annotated[JobQueue, Depends(_queue)]
EventHubDep = Annotated[EventHub, Depends(_event_hub)]

# Ids in paths: never a ':' or anything else odd (422 before any lookup; see core.ids).
JobId = Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="a job id")]
DocumentId = Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="a document id")]
