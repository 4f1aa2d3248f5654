"""Four 100 MiB uploads at once into an API running as its own process (`python -m orchestrator api`, no
in-process workers, so nothing parses them): the API's peak resident memory stays far below the bytes it
received, since each upload streams to the blob store chunk by chunk, and Redis does not grow by them.

The bound is the API's memory target (300 MB); the figures measured are printed."""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator.settings import Settings
from tests.support import free_port, wait_ready
from tests.support.job_queue import start_api_process

MIB = 1024 * 1024
FILE_BYTES = 100 * MIB
UPLOADS = 4
PEAK_RSS_LIMIT_BYTES = 300 * 1000 * 1000
CHUNK_BYTES = MIB
BOUNDARY = "memory-test-boundary"


def status_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/<pid>/status (VmHWM: the peak resident set, VmRSS: the current one)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


async def multipart_body(seed: int) -> AsyncIterator[bytes]:
    """One multipart upload of FILE_BYTES, generated as it is sent (never whole in this process either);
    `seed` makes each file's bytes, so its sha256, its own."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big-{seed}.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    block = bytes((seed * 31 + i) % 256 for i in range(256)) * (CHUNK_BYTES // 256)
    for _ in range(FILE_BYTES // CHUNK_BYTES):
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def body_bytes() -> int:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big-0.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    return len(head.encode()) + FILE_BYTES + len(f"\r\n--{BOUNDARY}--\r\n".encode())


async def used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


@pytest.fixture
def api_process(
    settings: Settings, chroma_url: str, compute_url: str, compute_token: str, tmp_path: Path, redis: Redis
):
    """The API as its own process on the test's Redis, Chroma and compute (which only the collection's
    creation calls: no worker runs), with its blobs under tmp_path."""
    port = free_port()
    env = {
        **os.environ,
        "ORCH_ENV": "dev",
        "ORCH_REDIS_URL": settings.redis_url,
        "ORCH_CHROMA_URL": chroma_url,
        "ORCH_COMPUTE_URLS": compute_url,
        "ORCH_COMPUTE_TOKEN": compute_token,
        "ORCH_RECONCILE_INTERVAL_S": "0",
        "ORCH_UPLOADS_PER_MIN": "0",
        "ORCH_MAX_UPLOAD_BYTES": str(FILE_BYTES),  # past the default cap: more bytes in than memory allowed
        "ORCH_BLOB_URL": str(tmp_path / "blobs"),
        "ORCH_LEXICAL_DIR": str(tmp_path / "lexical"),
    }
    log_path = tmp_path / "api.log"
    with log_path.open("wb") as log:
        process = start_api_process(env, port, log, workers=0)
        try:
            wait_ready(f"http://127.0.0.1:{port}/livez", process, timeout_s=60)
            yield process, f"http://127.0.0.1:{port}/api/v1", tmp_path / "blobs"
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


async def test_four_100_mib_uploads_at_once_stay_under_300_mb_of_api_memory(
    api_process, redis: Redis
) -> None:
    process, api, blob_dir = api_process
    async with httpx.AsyncClient(base_url=api, timeout=600) as client:
        created = await client.post("/collections", json={"name": "big-uploads"})
        assert created.status_code == 201, created.text
        rss_before_kib = status_kib(process.pid, "VmHWM")
        redis_before = await used_memory(redis)
        headers = {
            "content-type": f"multipart/form-data; boundary={BOUNDARY}",
            "content-length": str(body_bytes()),
        }
        started = time.monotonic()
        responses = await asyncio.gather(
            *(
                client.post("/collections/big-uploads/documents", content=multipart_body(i), headers=headers)
                for i in range(UPLOADS)
            )
        )
        elapsed_s = time.monotonic() - started
        peak_kib = status_kib(process.pid, "VmHWM")
        redis_after = await used_memory(redis)
        for response in responses:
            assert response.status_code == 202, response.text
        documents = (await client.get("/documents", params={"collection": "big-uploads"})).json()["items"]
    print(
        f"\n{UPLOADS} x {FILE_BYTES // MIB} MiB uploads at once in {elapsed_s:.1f} s: API peak RSS (VmHWM) "
        f"{rss_before_kib / 1024:.0f} MiB before, {peak_kib / 1024:.0f} MiB after "
        f"(limit {PEAK_RSS_LIMIT_BYTES / 1e6:.0f} MB); Redis used_memory {redis_before / MIB:.2f} MiB before, "
        f"{redis_after / MIB:.2f} MiB after"
    )
    assert peak_kib * 1024 < PEAK_RSS_LIMIT_BYTES
    assert redis_after - redis_before < 4 * MIB  # small records only: the bytes are not in Redis
    assert sorted(d["size_bytes"] for d in documents) == [FILE_BYTES] * UPLOADS
    originals = sorted((blob_dir / "originals").iterdir())
    assert [p.stat().st_size for p in originals] == [FILE_BYTES] * UPLOADS
    assert not [p for p in (blob_dir / "staging").iterdir() if p.is_file()]
    for path in originals:  # 400 MiB of disk back at once, not at the end of the session
        path.unlink()
