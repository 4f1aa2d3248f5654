"""The whole stack as `make run` starts it (deploy/run_stack.py's services), on free ports with a temporary
data dir, plus a second compute replica; the orchestrator lists both in ORCH_COMPUTE_URLS."""

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO
from unittest import mock

import httpx
import pytest

from deploy import run_stack
from tests.support import free_port

READY_TIMEOUT_S = 300
TEST_TIMEOUT_S = 300  # a hung test fails on its own instead of stalling the suite


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT_S))


class LoggedService(run_stack.Service):
    """run_stack's Service, with its output in a log file instead of pytest's captured stdout."""

    log: IO[str] | None = None

    def _relay(self, process) -> None:  # type: ignore[no-untyped-def]
        assert process.stdout is not None and self.log is not None
        for line in process.stdout:
            self.log.write(line.decode(errors="replace"))
            self.log.flush()


@dataclass
class Stack:
    api: str  # http://127.0.0.1:PORT/api/v1
    redis_url: str
    chroma_url: str
    compute: list[LoggedService]
    services: list[LoggedService]
    data_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, timeout=120)


def _ports() -> dict[str, str]:
    return {
        "RUN_REDIS_PORT": str(free_port()),
        "RUN_CHROMA_PORT": str(free_port()),
        "COMPUTE_PORT": str(free_port()),
        "ORCH_PORT": str(free_port()),
    }


def _logged(service: run_stack.Service, logs: Path, **extra_env: str) -> LoggedService:
    logged = LoggedService(service.name, service.argv, service.ready, {**service.env, **extra_env})
    logged.log = open(logs / f"{service.name}.log", "a")  # noqa: SIM115 (closed when the stack stops)
    return logged


def _start(service: LoggedService) -> None:
    service.start()
    service.wait_ready(READY_TIMEOUT_S)


def _group_alive(pid: int, wait_s: float = 15) -> bool:
    """Whether any process of the group is still there, given a moment to go (a parse worker dying)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.2)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("stack-data")
    logs = tmp_path_factory.mktemp("stack-logs")
    ports = _ports()
    with mock.patch.dict(os.environ, {"RUN_DATA_DIR": str(data), **ports}):
        redis, chroma, compute_a, orchestrator = run_stack.services()
    # Two replicas on two shared cores: one parse worker and one embedding thread each.
    small = {
        "COMPUTE_PARSE_WORKERS": "1",
        "COMPUTE_EMBED_THREADS": "1",
        "COMPUTE_LOG_LEVEL": "warning",
        "COMPUTE_ENV": "dev",  # no service token in this stack: compute runs open, loudly
    }
    port_b = str(free_port())
    compute_b = replace(
        compute_a,
        name="compute-b",
        ready=compute_a.ready.replace(ports["COMPUTE_PORT"], port_b),
        env={**compute_a.env, "COMPUTE_PORT": port_b},
    )
    compute_urls = [s.ready.removesuffix("/readyz") for s in (compute_a, compute_b)]
    orch_env = {
        "ORCH_COMPUTE_URLS": ",".join(compute_urls),
        "ORCH_API_WORKERS": "4",
        "ORCH_RECONCILE_GRACE_S": "0",
        "ORCH_RECONCILE_INTERVAL_S": "0",  # only on demand: the test decides when
        "ORCH_UPLOADS_PER_MIN": "0",
        "ORCH_SEARCHES_PER_MIN": "0",
        "ORCH_COMPUTE_BACKOFF_BASE_S": "0.2",
        "ORCH_COMPUTE_BACKOFF_MAX_S": "2",
        "ORCH_COMPUTE_MAX_ATTEMPTS": "6",
        "ORCH_LOG_LEVEL": "warning",
    }
    services = [
        _logged(redis, logs),
        _logged(chroma, logs),
        _logged(compute_a, logs, **small),
        _logged(compute_b, logs, **small),
        _logged(orchestrator, logs, **orch_env),
    ]
    started: list[LoggedService] = []
    t0 = time.monotonic()
    try:
        for service in services:
            if run_stack.port_in_use("127.0.0.1", httpx.URL(service.ready).port):
                raise RuntimeError(f"{service.name}: port taken")
            started.append(service)
            _start(service)
        print(f"\n[e2e] stack ready in {time.monotonic() - t0:.1f} s (logs in {logs})")
        yield Stack(
            api=orchestrator.ready.removesuffix("/readyz") + "/api/v1",
            redis_url=f"redis://127.0.0.1:{ports['RUN_REDIS_PORT']}/0",
            chroma_url=f"http://127.0.0.1:{ports['RUN_CHROMA_PORT']}",
            compute=services[2:4],
            services=services,
            data_dir=data,
        )
    finally:
        for service in reversed(started):
            service.stop()
        leftovers = [s.name for s in started if s.process is not None and _group_alive(s.process.pid)]
        for service in started:
            if service.log:
                service.log.close()
        assert not leftovers, f"still running after the stack stopped: {leftovers}"
