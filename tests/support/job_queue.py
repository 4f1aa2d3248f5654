"""Queue settings for tests (short leases, fast retries), waiting for a condition, worker processes."""

import asyncio
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import IO

from orchestrator.core.redis_client import TRANSIENT_ERRORS
from orchestrator.settings import Settings
from tests.support import REPO

# The test process's blob store (originals): a temporary directory, removed at exit; never ./data.
BLOB_DIR = tempfile.mkdtemp(prefix="orch-blobs-")
atexit.register(shutil.rmtree, BLOB_DIR, ignore_errors=True)

# Short leases and backoffs so that lapses and retries happen within a test; the ratios stay realistic.
FAST = {
    "lease_s": 1.0,
    "heartbeat_s": 0.2,
    "idle_block_s": 0.2,
    "retry_base_s": 0.01,
    "retry_max_s": 0.05,
    "shutdown_deadline_s": 2.0,
    "reconnect_base_s": 0.02,
    "reconnect_max_s": 0.5,
    "max_deliveries": 4,
    "blob_url": BLOB_DIR,
}


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, timeout_s: float = 30.0, what: str = "condition"
) -> None:
    """Polls until predicate() holds; the timeout only guards against a hang, it measures nothing.
    A Redis error counts as "not yet" (after a restart, the test's own pooled connections are stale)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if await predicate():
                return
        except TRANSIENT_ERRORS:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def start_worker_process(settings: Settings, worker_id: str, *extra: str) -> subprocess.Popen[bytes]:
    """`python -m orchestrator worker` with the test handlers, configured through ORCH_* variables."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        **{f"ORCH_{name.upper()}": str(value) for name, value in FAST.items()},
        "ORCH_REDIS_URL": settings.redis_url,
        "ORCH_HANDLERS": "tests.support.fake_handlers:build",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "worker", "--worker-id", worker_id, *extra],
        cwd=REPO,
        env=env,
    )


def api_process_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of an API process on the stack `settings` name (dev mode, no reconciler, its
    lexical index where the settings keep it), with `overrides` (ORCH_* names) on top."""
    token = settings.compute_token.get_secret_value() if settings.compute_token else ""
    return {
        **os.environ,
        "ORCH_ENV": "dev",
        "ORCH_REDIS_URL": settings.redis_url,
        "ORCH_CHROMA_URL": settings.chroma_url,
        "ORCH_COMPUTE_URLS": ",".join(settings.compute_urls),
        "ORCH_COMPUTE_TOKEN": token,
        "ORCH_RECONCILE_INTERVAL_S": "0",
        "ORCH_LEXICAL_DIR": settings.lexical_dir,
        **overrides,
    }


def start_api_process(
    env: dict[str, str], port: int, log: IO[bytes], *, workers: int
) -> subprocess.Popen[bytes]:
    """`python -m orchestrator api` as its own process (its memory and its signals are its own), configured
    by `env`, its output in `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "api", "--workers", str(workers), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
