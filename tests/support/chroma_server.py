"""A throwaway Chroma server for tests: `chroma run` from its own environment (.venv/chroma), a free port,
its own data dir. It can be stopped, killed and started again on the same port and data."""

import subprocess
import time
from pathlib import Path

import httpx

from tests.support import VENVS, free_port

CHROMA = VENVS / "chroma" / "bin" / "chroma"


class ChromaServer:
    def __init__(self, directory: Path, *, port: int | None = None):
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout_s: float = 60.0) -> "ChromaServer":
        if not CHROMA.exists():
            raise RuntimeError(f"{CHROMA} is missing: run `make setup-chroma`")
        self._log = open(self.directory / "chroma.log", "ab")  # noqa: SIM115 - closed by stop() and kill()
        self.process = subprocess.Popen(
            [
                str(CHROMA),
                "run",
                "--path",
                str(self.directory / "data"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"chroma did not start on port {self.port}; see {self.directory / 'chroma.log'}"
                )
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait()
        self._close_log()

    def stop(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
