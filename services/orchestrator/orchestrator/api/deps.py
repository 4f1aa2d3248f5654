"""`Annotated` dependency aliases for the routes: the process's shared clients, from app.state."""

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from orchestrator.compute_client import ComputeClient
from orchestrator.queue import JobQueue
from orchestrator.registry import Registry
from orchestrator.services import Services
from orchestrator.settings import Settings
from orchestrator.vectors import VectorStore


def _services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(_services)]


def _settings(services: ServicesDep) -> Settings:
    return services.settings


def _redis(services: ServicesDep) -> Redis:
    return services.redis


def _registry(services: ServicesDep) -> Registry:
    return services.registry


def _queue(services: ServicesDep) -> JobQueue:
    return services.queue


def _vectors(services: ServicesDep) -> VectorStore:
    return services.vectors


def _compute(services: ServicesDep) -> ComputeClient:
    return services.compute


SettingsDep = Annotated[Settings, Depends(_settings)]
RedisDep = Annotated[Redis, Depends(_redis)]
RegistryDep = Annotated[Registry, Depends(_registry)]
QueueDep = Annotated[JobQueue, Depends(_queue)]
VectorsDep = Annotated[VectorStore, Depends(_vectors)]
ComputeDep = Annotated[ComputeClient, Depends(_compute)]
