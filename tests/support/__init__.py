"""Helpers shared by every test suite: free ports, the ../shared folder, waiting for a server, the error
envelope. The modules beside this one are the helpers of one suite or another (servers, handlers, stacks)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
VENVS = REPO / ".venv"
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 240.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout_s} s")


class ComputeServer:
    """A real compute service process (`python -m compute`) on a free port."""

    def __init__(self, log_path: Path, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "COMPUTE_HOST": "127.0.0.1",
            "COMPUTE_PORT": str(self.port),
            "COMPUTE_LOG_LEVEL": "warning",
            "HF_HUB_OFFLINE": "1",
            # Tests run compute open (no token) unless they pass COMPUTE_SERVICE_TOKEN: dev mode says so.
            "COMPUTE_ENV": "dev",
            **env,
        }
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ComputeServer":
        # Its own environment: the orchestrator's tests run in a venv without any ML library.
        python = VENVS / "compute" / "bin" / "python"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            [str(python) if python.exists() else sys.executable, "-m", "compute"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        wait_ready(self.url + "/readyz", self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """The response is the error envelope both services answer with, with this status and code."""
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["retryable"], bool)
    return body["error"]


def parse_worker_pids(compute_pid: int) -> list[int]:
    """The parse worker processes of a compute process (its spawned children, not multiprocessing's
    resource tracker)."""
    pids = []
    for task in Path(f"/proc/{compute_pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                pids.append(int(child))
    return sorted(set(pids))
