"""A rig for forcing interleavings of ingest attempts: the API runs without workers, and the test claims
jobs and runs the saga's attempts itself, as named workers, with hooks on the real clients between steps."""

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from orchestrator.clients import Clients
from orchestrator.ingest.saga import Ingestion
from orchestrator.jobs import Job, JobContext, JobStatus
from orchestrator.jobs.leases import Lease
from orchestrator.jobs.outcomes import Outcome
from orchestrator.settings import Settings
from tests.support.api import API, running_app, upload
from tests.support.job_queue import wait_until

DOCUMENT = b"# Otters\n\nSea otters hold hands while they sleep so that they do not drift apart.\n"


@dataclasses.dataclass
class Rig:
    client: httpx.AsyncClient
    clients: Clients

    async def upload(self, collection: str, data: bytes = DOCUMENT) -> tuple[str, str]:
        response = await upload(self.client, collection, "otters.md", data)
        assert response.status_code == 202, response.text
        return response.json()["document_id"], response.json()["job_id"]

    async def reingest(self, document_id: str) -> str:
        response = await self.client.post(f"{API}/documents/{document_id}/reingest")
        assert response.status_code == 202, response.text
        return response.json()["job_id"]

    async def claim(self, worker: str) -> JobContext:
        """Claims the next job as `worker`, waiting for one (a lapsed lease counts)."""
        found: list[Job] = []

        async def claimed() -> bool:
            found.extend((await self.clients.queue.leases.claim(worker, 1)).jobs)
            return bool(found)

        await wait_until(claimed, what=f"a job for worker {worker}")
        return context(found[0], worker, self.clients)

    async def run(self, ctx: JobContext, *, finish: bool = False) -> None:
        """One attempt of the saga; `finish`: then records it succeeded, as a worker would."""
        await Ingestion(self.clients).run(ctx, ctx.job)
        if finish:
            assert await self.clients.queue.leases.finish(ctx.lease, Outcome(JobStatus.succeeded))

    async def document(self, document_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{API}/documents/{document_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def vector_generations(self, chroma: str, document_id: str) -> list[int]:
        records = await self.clients.vectors.get(chroma, where={"document_id": document_id})
        return sorted(int(r.metadata["generation"]) for r in records)


def context(job: Job, worker: str, clients: Clients) -> JobContext:
    fields = {f.name for f in dataclasses.fields(Lease)}
    values = {"job_id": job.id, "worker": worker, "attempt": job.attempts, "fence": getattr(job, "fence", 0)}
    lease = Lease(**{k: v for k, v in values.items() if k in fields})
    return JobContext(job, lease, clients.queue.leases)


@asynccontextmanager
async def rig(settings: Settings, **overrides: Any) -> AsyncIterator[Rig]:
    """The app with no workers of its own; `overrides` change its settings."""
    values = {**settings.model_dump(), "api_workers": 0, **overrides}
    async with running_app(Settings(**values)) as (app, client):
        yield Rig(client, app.state.clients)


def hook(obj: Any, name: str, before: Callable[..., Awaitable[None]]) -> None:
    """Wraps obj.name (an async method of a real client) so that `before(*args, **kwargs)` runs first."""
    real = getattr(obj, name)

    async def hooked(*args: Any, **kwargs: Any) -> Any:
        await before(*args, **kwargs)
        return await real(*args, **kwargs)

    setattr(obj, name, hooked)
