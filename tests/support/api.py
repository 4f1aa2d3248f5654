"""Helpers for the API tests: settings for a real stack, the app run in-process (lifespan included),
uploads, waiting for documents and jobs, and small generated documents of each format."""

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from orchestrator.api import create_app
from orchestrator.settings import Settings
from tests.support.documents import docx_bytes, pdf_bytes, pptx_bytes, xlsx_bytes
from tests.support.job_queue import FAST

__all__ = ["docx_bytes", "pdf_bytes", "pptx_bytes", "xlsx_bytes"]  # re-exported for the API tests

API = "/api/v1"
FINAL_DOCUMENT = {"ready", "failed", "cancelled"}
FINAL_JOB = {"succeeded", "failed", "cancelled", "dead"}


def stack_settings(
    redis_url: str, chroma_url: str, compute_url: str, compute_token: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        **FAST,
        "redis_url": redis_url,
        "chroma_url": chroma_url,
        "compute_urls": compute_url,
        "compute_token": compute_token,
        "env": "dev",
        "api_workers": 2,
        "reconcile_interval_s": 0,
        "compute_backoff_base_s": 0.05,
        "compute_backoff_max_s": 0.2,
        "embed_batch_texts": 16,
        # Each app's lexical index starts empty and is rebuilt from the stack (tests may pass their own).
        "lexical_dir": tempfile.mkdtemp(prefix="lexical-"),
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running_app(
    settings: Settings, **client_args: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan (Redis, Chroma, compute clients, in-process workers) and a client for it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await _lexical_caught_up(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", timeout=60, **client_args
        ) as client:
            yield app, client


async def _lexical_caught_up(app: FastAPI, timeout_s: float = 10.0) -> None:
    """Gives the app's lexical index the moment it needs to catch up, as a load balancer waits for /readyz
    (a test of a stack that is down at start goes on after timeout_s)."""
    follower = app.state.search.follower  # None where the app holds no index
    deadline = time.monotonic() + timeout_s
    while follower is not None and not follower.caught_up and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def create_collection(client: httpx.AsyncClient, name: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{API}/collections", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def upload(
    client: httpx.AsyncClient,
    collection: str,
    filename: str,
    data: bytes,
    *,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> httpx.Response:
    return await client.post(
        f"{API}/collections/{collection}/documents",
        files={"file": (filename, data, "application/octet-stream")},
        data=fields,
        headers=headers,
    )


async def _wait_status(
    client: httpx.AsyncClient, path: str, statuses: set[str], timeout_s: float
) -> dict[str, Any]:
    """Polls the record at `path` until its status is one of `statuses`."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = await client.get(f"{API}{path}")
        assert response.status_code == 200, response.text
        record = response.json()
        if record["status"] in statuses:
            return record
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} stuck at {record}")
        await asyncio.sleep(0.05)


async def wait_document(
    client: httpx.AsyncClient, document_id: str, statuses: set[str] = FINAL_DOCUMENT, timeout_s: float = 120
) -> dict[str, Any]:
    return await _wait_status(client, f"/documents/{document_id}", statuses, timeout_s)


async def wait_job(client: httpx.AsyncClient, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    return await _wait_status(client, f"/jobs/{job_id}", FINAL_JOB, timeout_s)


async def ingest(
    client: httpx.AsyncClient, collection: str, filename: str, data: bytes, **fields: str
) -> dict:
    response = await upload(client, collection, filename, data, **fields)
    assert response.status_code == 202, response.text
    document = await wait_document(client, response.json()["document_id"])
    assert document["status"] == "ready", document
    return document


async def search(client: httpx.AsyncClient, query: str, collections: list[str], **body: Any) -> list[dict]:
    response = await client.post(f"{API}/search", json={"query": query, "collections": collections, **body})
    assert response.status_code == 200, response.text
    return response.json()["results"]


def long_markdown(sections: int, paragraphs_per_section: int = 3) -> bytes:
    """A long, varied document: many chunks."""
    words = [
        "river",
        "engine",
        "harvest",
        "quartz",
        "lantern",
        "orbit",
        "meadow",
        "cipher",
        "glacier",
        "violin",
    ]
    lines = ["# A long report", ""]
    for s in range(sections):
        lines += [f"## Section {s}: {words[s % 10]} and {words[(s * 3) % 10]}", ""]
        for p in range(paragraphs_per_section):
            sentence = " ".join(f"{words[(s + p + i) % 10]}{(s * 7 + i) % 13}" for i in range(60))
            lines += [f"Paragraph {p} of section {s} talks about {sentence}.", ""]
    return "\n".join(lines).encode()
