"""`make run`: the whole stack on one machine, no Docker. Starts Redis, the Chroma server, compute and the
orchestrator API (with in-process workers, dev mode) in that order, each only once the one before it is
ready; prints the URLs; restarts a process that dies (a few times); stops everything on SIGINT/SIGTERM,
newest first, and exits. Data stays under RUN_DATA_DIR, so a second run finds it again.

Why not honcho or supervisord: neither can wait for one process to be *ready* (Redis PING, HTTP /readyz)
before starting the next, which is what this script is about. Standard library and httpx only.

Environment (all optional): RUN_DATA_DIR (./data), RUN_REDIS_PORT (6380), RUN_REDIS_SERVER (redis-server),
RUN_REDIS_MAXMEMORY (512mb), RUN_CHROMA_PORT (8000), RUN_VENV_DIR (.venv), RUN_READY_TIMEOUT_S (300),
COMPUTE_HOST/COMPUTE_PORT (127.0.0.1, 8090), COMPUTE_ENV (dev), ORCH_HOST/ORCH_PORT (127.0.0.1, 8080),
ORCH_API_WORKERS (4), ORCH_ENV (dev), ORCH_BLOB_URL ($RUN_DATA_DIR/blobs), ORCH_LEXICAL_DIR
($RUN_DATA_DIR/lexical), MALLOC_ARENA_MAX (2, for the API); any other COMPUTE_* / ORCH_* variable passes
through to its service.

Dev mode on both services (no API keys, no compute token), said loudly at start: every port is bound to
127.0.0.1, and Redis there has no password, so this is for one machine, never a shared host.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
MAX_RESTARTS = 3
# Redis holds only small records (originals live in the blob store): a document is ~1-2 KB with its
# indexes, a job ~1 KB plus its capped event stream, so 512mb holds ~100k documents with their jobs and
# still leaves a laptop its memory. noeviction: a full Redis refuses writes, never drops a job silently.
DEFAULT_REDIS_MAXMEMORY = "512mb"


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass
class Service:
    name: str
    argv: list[str]
    ready: str  # an http(s) URL answering 200 when ready, or redis://host:port (PING)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this script only; it stops the services in order
        )
        threading.Thread(target=self._relay, args=(self.process,), daemon=True).start()

    def _relay(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(f"{self.name:>12} | {line.decode(errors='replace')}")
            sys.stdout.flush()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(self, timeout_s: float, poll_s: float = 0.25) -> None:
        """Until it answers its readiness probe; RuntimeError if it exits or timeout_s passes first."""
        deadline = time.monotonic() + timeout_s
        while not self.is_ready():
            if not self.alive:
                code = self.process.returncode if self.process is not None else None
                raise RuntimeError(f"{self.name} exited with {code}; see its log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s ({self.ready})")
            time.sleep(poll_s)

    def is_ready(self) -> bool:
        try:
            if self.ready.startswith("redis://"):
                host, port = self.ready.removeprefix("redis://").split(":")
                with socket.create_connection((host, int(port)), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    return conn.recv(64).startswith(b"+PONG")
            return httpx.get(self.ready, timeout=2).status_code == 200
        except (OSError, httpx.HTTPError):
            return False

    def stop(self, timeout_s: float = 40) -> None:
        """SIGTERM (Redis flushes its AOF, the orchestrator drains its workers), then SIGKILL whatever is
        left of the process group (compute's parse worker, for one)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                print(f"{self.name} did not stop in {timeout_s:.0f} s: killing it", flush=True)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0


def services() -> list[Service]:
    data = Path(env("RUN_DATA_DIR", str(ROOT / "data"))).resolve()
    venvs = Path(env("RUN_VENV_DIR", str(ROOT / ".venv"))).resolve()
    redis_port = env("RUN_REDIS_PORT", "6380")
    chroma_port = env("RUN_CHROMA_PORT", "8000")
    compute_host, compute_port = env("COMPUTE_HOST", "127.0.0.1"), env("COMPUTE_PORT", "8090")
    orch_host, orch_port = env("ORCH_HOST", "127.0.0.1"), env("ORCH_PORT", "8080")
    (data / "redis").mkdir(parents=True, exist_ok=True)
    (data / "chroma").mkdir(parents=True, exist_ok=True)
    (data / "blobs").mkdir(parents=True, exist_ok=True)
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return [
        Service(
            "redis",
            [
                env("RUN_REDIS_SERVER", "redis-server"),
                "--port",
                redis_port,
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                # fsync before each reply: an acknowledged job or upload survives an OS crash too
                # (`make bench-queue` measures the cost; the README states the guarantee).
                "--appendfsync",
                "always",
                "--dir",
                str(data / "redis"),
                "--save",
                "",
                "--maxmemory",
                env("RUN_REDIS_MAXMEMORY", DEFAULT_REDIS_MAXMEMORY),
                "--maxmemory-policy",
                "noeviction",
            ],
            f"redis://127.0.0.1:{redis_port}",
        ),
        Service(
            "chroma",
            [
                str(venvs / "chroma/bin/chroma"),
                "run",
                "--path",
                str(data / "chroma"),
                "--host",
                "127.0.0.1",
                "--port",
                chroma_port,
            ],
            f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat",
            {"ANONYMIZED_TELEMETRY": "False"},
        ),
        Service(
            "compute",
            [str(venvs / "compute/bin/python"), "-m", "compute"],
            f"http://{compute_host}:{compute_port}/readyz",
            {
                **offline,
                "COMPUTE_ENV": env("COMPUTE_ENV", "dev"),
                "COMPUTE_HOST": compute_host,
                "COMPUTE_PORT": compute_port,
            },
        ),
        Service(
            "orchestrator",
            [str(venvs / "orchestrator/bin/python"), "-m", "orchestrator", "api"],
            f"http://{orch_host}:{orch_port}/readyz",
            {
                "ORCH_ENV": env("ORCH_ENV", "dev"),
                "ORCH_HOST": orch_host,
                "ORCH_PORT": orch_port,
                "ORCH_API_WORKERS": env("ORCH_API_WORKERS", "4"),
                "ORCH_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "ORCH_CHROMA_URL": f"http://127.0.0.1:{chroma_port}",
                "ORCH_COMPUTE_URLS": f"http://{compute_host}:{compute_port}",
                "ORCH_BLOB_URL": env("ORCH_BLOB_URL", str(data / "blobs")),
                "ORCH_LEXICAL_DIR": env("ORCH_LEXICAL_DIR", str(data / "lexical")),
                # tantivy's threads would each take a malloc arena of their own: two keep the API's
                # memory from creeping up as the lexical index commits (49 against 18 MB per 1,600).
                "MALLOC_ARENA_MAX": env("MALLOC_ARENA_MAX", "2"),
            },
        ),
    ]


def dev_mode_banner(stack: list[Service]) -> str:
    """The warning printed at start for every service running in dev mode ("" when none does)."""
    dev = [
        f"{name}=dev"
        for service in stack
        for name in ("COMPUTE_ENV", "ORCH_ENV")
        if service.env.get(name) == "dev"
    ]
    if not dev:
        return ""
    bar = "!" * 78
    return (
        f"{bar}\n"
        f"  DEV MODE ({', '.join(dev)}): the API accepts requests without API keys (unless ORCH_API_KEYS\n"
        "  is set) and compute without its service token (unless COMPUTE_SERVICE_TOKEN is set).\n"
        "  Every port is bound to 127.0.0.1 and this Redis has no password: never expose them.\n"
        f"{bar}\n"
    )


class Stop(Exception):
    pass


def main() -> int:
    stack = services()
    timeout_s = float(env("RUN_READY_TIMEOUT_S", "300"))
    print(dev_mode_banner(stack), end="", flush=True)

    def on_signal(signum: int, _frame: object) -> None:
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started: list[Service] = []
    code = 0
    try:
        for service in stack:
            address = httpx.URL(service.ready)
            if port_in_use(address.host, address.port):
                raise SystemExit(f"{service.name}: port {address.port} is already in use; set another one")
            print(f"starting {service.name}: {' '.join(service.argv)}", flush=True)
            service.start()
            started.append(service)
            try:
                service.wait_ready(timeout_s)
            except RuntimeError as exc:
                raise SystemExit(f"{service.name} did not become ready: {exc}") from None
            print(f"{service.name} is ready", flush=True)
        api = stack[-1].ready.removesuffix("/readyz")
        print(
            "\nThe stack is up (Ctrl-C stops it):\n"
            f"  console      {api}/console\n"
            f"  API          {api}/api/v1   (OpenAPI: {api}/docs)\n"
            f"  compute      {stack[2].ready.removesuffix('/readyz')}\n"
            f"  Chroma       {stack[1].ready.removesuffix('/api/v2/heartbeat')}\n"
            f"  Redis        {stack[0].ready}\n",
            flush=True,
        )
        while True:  # supervise: a process that dies is started again, a few times at most
            time.sleep(1)
            for service in stack:
                if service.alive:
                    continue
                if service.restarts >= MAX_RESTARTS:
                    raise SystemExit(f"{service.name} keeps dying; stopping the stack")
                service.restarts += 1
                print(f"{service.name} exited ({service.process.returncode}); restarting", flush=True)
                service.stop()  # whatever is left of its process group
                service.start()
    except Stop as stop:
        print(f"\n{stop}: stopping", flush=True)
    except SystemExit as exit_:
        print(f"error: {exit_}", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for service in reversed(started):
            service.stop()
            print(f"{service.name} stopped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
