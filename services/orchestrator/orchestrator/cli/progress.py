"""Following ingestion jobs: Server-Sent Events of `GET /api/v1/jobs/{id}/events`, one progress bar per job.

On a terminal the bars are redrawn in place; otherwise (a pipe, a log) a line is printed per stage change
and per finished job, so that logs stay readable.
"""

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

FINAL = {"succeeded", "failed", "cancelled", "dead"}
BAR_WIDTH = 24


@dataclass
class Tracked:
    label: str
    job_id: str
    status: str = "queued"
    stage: str = ""
    done: int = 0
    total: int | None = None
    unit: str = ""
    error: str = ""
    _last_line: str = field(default="", repr=False)

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "status":
            self.status = data.get("status", self.status)
            if error := data.get("error"):
                self.error = error.get("message", str(error)) if isinstance(error, dict) else str(error)
        elif kind == "progress":
            self.status = "running"
            self.stage = data.get("stage") or self.stage
            if progress := data.get("progress"):
                self.done, self.total, self.unit = progress["done"], progress.get("total"), progress["unit"]

    def line(self, width: int = 30) -> str:
        label = self.label if len(self.label) <= width else "…" + self.label[-(width - 1) :]
        fraction = 1.0 if self.status == "succeeded" else (self.done / self.total if self.total else 0.0)
        filled = round(fraction * BAR_WIDTH)
        counts = f"{self.done}/{self.total} {self.unit}" if self.total else ""
        text = f"{label:<{width}} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.status:<9} {self.stage:<8} {counts}"
        return f"{text} {self.error}".rstrip()


async def sse(
    client: httpx.AsyncClient, url: str, last_id: str | None
) -> AsyncIterator[tuple[str, str, Any]]:
    """(id, event, data) of each Server-Sent Event until the server closes the stream."""
    headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last_id} if last_id else {})}
    async with client.stream("GET", url, headers=headers, timeout=httpx.Timeout(30, read=None)) as response:
        response.raise_for_status()
        event_id, kind, data = "", "message", []
        async for line in response.aiter_lines():
            if not line:
                if data:
                    yield event_id, kind, json.loads("\n".join(data))
                event_id, kind, data = "", "message", []
            elif line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())


async def follow(client: httpx.AsyncClient, job: Tracked, changed: asyncio.Event) -> None:
    """Applies the job's events until it ends; reconnects (Last-Event-ID) if the stream drops early."""
    last_id: str | None = None
    for _ in range(20):
        try:
            async for event_id, kind, data in sse(client, f"/api/v1/jobs/{job.job_id}/events", last_id):
                last_id = event_id or last_id
                job.apply(kind, data)
                changed.set()
        except httpx.TransportError:
            await asyncio.sleep(1)
        if job.status in FINAL:
            return
        # The stream ended without a final event (expired, or the job is over): ask the job itself.
        response = await client.get(f"/api/v1/jobs/{job.job_id}")
        if response.status_code == 200:
            body = response.json()
            job.status, job.stage = body["status"], body.get("stage") or job.stage
            if body.get("error"):
                job.error = body["error"].get("message", "")
            changed.set()
            if job.status in FINAL:
                return
    job.error = job.error or "lost track of the job"


async def follow_all(client: httpx.AsyncClient, jobs: list[Tracked], out: TextIO | None = None) -> None:
    """Follows every job at once and draws their bars until all have ended."""
    out = out or sys.stdout
    changed = asyncio.Event()
    tty = out.isatty()
    width = min(40, max((len(j.label) for j in jobs), default=10))
    drawn = 0

    def draw() -> None:
        nonlocal drawn
        if tty:
            if drawn:
                out.write(f"\x1b[{drawn}F")
            for job in jobs:
                out.write("\x1b[2K" + job.line(width) + "\n")
            drawn = len(jobs)
        else:
            for job in jobs:
                line = job.line(width)
                key = f"{job.status}{job.stage}"
                if key != job._last_line:
                    job._last_line = key
                    out.write(line + "\n")
        out.flush()

    tasks = [asyncio.create_task(follow(client, job, changed)) for job in jobs]
    draw()
    while not all(task.done() for task in tasks):
        waiter = asyncio.create_task(changed.wait())
        await asyncio.wait([waiter, *tasks], timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        changed.clear()
        draw()
    for task in tasks:
        task.result()  # raise what a follower raised
