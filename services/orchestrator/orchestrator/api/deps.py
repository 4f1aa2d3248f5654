"""`Annotated` dependency aliases for the routes: the process's shared clients, from app.state."""

from typing import Annotated

from fastapi import Depends, Request

from orchestrator.catalog import Registry
from orchestrator.clients import Clients
from orchestrator.jobs import JobQueue


def _clients(request: Request) -> Clients:
    return request.app.state.clients


ClientsDep = Annotated[Clients, Depends(_clients)]


def _registry(clients: ClientsDep) -> Registry:
    return clients.registry


def _queue(clients: ClientsDep) -> JobQueue:
    return clients.queue


RegistryDep = Annotated[Registry, Depends(_registry)]
QueueDep = Annotated[JobQueue, Depends(_queue)]
