"""The whole-stack benchmark's stack: Redis, Chroma, compute and the orchestrator API started as `make run`
starts them (deploy/run_stack.py) on free ports, the API and compute restartable, and the peak memory and
CPU time of every process, by phase; the CPU's name and flags."""

import contextlib
import os
import shutil
import threading
import time
from pathlib import Path

from deploy import run_stack
from tests.support import free_port

API_WORKERS = int(os.environ.get("ORCH_API_WORKERS", "4"))  # jobs at once in the API process, as make run

EMBED_BATCH_TEXTS = 128  # the orchestrator's default ORCH_EMBED_BATCH_TEXTS


class Stack:
    def __init__(self, data: Path, log: Path) -> None:
        self.ports = {
            "redis": free_port(),
            "chroma": free_port(),
            "compute": free_port(),
            "orch": free_port(),
        }
        os.environ.update(
            {
                "RUN_DATA_DIR": str(data),
                "RUN_REDIS_PORT": str(self.ports["redis"]),
                "RUN_CHROMA_PORT": str(self.ports["chroma"]),
                "COMPUTE_PORT": str(self.ports["compute"]),
                "ORCH_PORT": str(self.ports["orch"]),
                "ORCH_API_WORKERS": str(API_WORKERS),
                "ORCH_ENV": "dev",
                "ORCH_UPLOADS_PER_MIN": "0",  # the benchmark is one client uploading thousands of files
                "ORCH_SEARCHES_PER_MIN": "0",
                "ORCH_EMBED_BATCH_TEXTS": str(EMBED_BATCH_TEXTS),
                "ORCH_RECONCILE_INTERVAL_S": "3600",
                # in the temporary data dir, not the API's default ./data/lexical under the repository
                "ORCH_LEXICAL_DIR": str(data / "lexical"),
            }
        )
        self.log = log.open("a")
        log_lock = threading.Lock()
        logfile = self.log

        def relay(service: run_stack.Service, process) -> None:  # the services' output goes to a log file
            for line in process.stdout:
                with log_lock:
                    logfile.write(f"{service.name:>12} | {line.decode(errors='replace')}")
                    logfile.flush()

        run_stack.Service._relay = relay
        self.services = run_stack.services()
        self.peak_kb: dict[str, int] = {}
        self.phase_peak_kb: dict[str, dict[str, int]] = {}  # phase -> label -> peak during that phase
        self.phase_cpu_s: dict[str, dict[str, float]] = {}  # phase -> label -> CPU seconds used in it
        self._stop = threading.Event()
        self.api = f"http://127.0.0.1:{self.ports['orch']}"
        self.compute = f"http://127.0.0.1:{self.ports['compute']}"
        self.chroma = f"http://127.0.0.1:{self.ports['chroma']}"

    def start(self) -> None:
        for service in self.services:
            service.start()
            deadline = time.monotonic() + 300
            while not service.is_ready():
                if not service.alive or time.monotonic() > deadline:
                    raise SystemExit(f"{service.name} did not become ready; see the log")
                time.sleep(0.25)
            print(f"  {service.name} ready (pid {service.process.pid})", flush=True)
        threading.Thread(target=self._sample, daemon=True).start()

    def service(self, name: str) -> run_stack.Service:
        return next(s for s in self.services if s.name == name)

    @property
    def lexical_dir(self) -> Path:
        """The API's lexical index (its slot-N directories), as the API resolves it (from its cwd)."""
        raw = self.service("orchestrator").env.get("ORCH_LEXICAL_DIR") or os.environ["ORCH_LEXICAL_DIR"]
        return run_stack.ROOT / raw  # an absolute path stays itself

    def restart_api(self, *, wipe_lexical: bool, ready_timeout_s: float = 1800) -> float:
        """Stops the API (SIGTERM: its workers drain), deletes its lexical index if asked, starts it again
        and returns the seconds from the start until /readyz answers 200."""
        api = self.service("orchestrator")
        api.stop()
        if wipe_lexical:
            shutil.rmtree(self.lexical_dir, ignore_errors=True)
        started = time.perf_counter()
        api.start()
        api.wait_ready(ready_timeout_s, poll_s=0.1)
        return time.perf_counter() - started

    def restart_compute(self, env: dict[str, str], ready_timeout_s: float = 900) -> None:
        """compute stopped and started again with `env` on top of its own (the API's calls retry meanwhile)."""
        compute = self.service("compute")
        compute.stop()
        compute.env.update(env)
        compute.start()
        compute.wait_ready(ready_timeout_s, poll_s=0.25)

    def memory_kb(self, name: str) -> dict[str, int]:
        """VmRSS and VmHWM (kB) of a service's own process (not its children)."""
        process = self.service(name).process
        return status_kb(process.pid, ("VmRSS", "VmHWM")) if process is not None else {}

    def stop(self) -> None:
        self._stop.set()
        self.sample_once()
        for service in reversed(self.services):
            service.stop()
        self.log.close()

    @contextlib.contextmanager
    def phase(self, name: str):
        """Peaks of this phase alone: every process's VmHWM is reset (clear_refs) at its start."""
        self.sample_once()
        cpu_before = self.cpu_seconds()
        for pid, _label in self._processes():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass
        try:
            yield
        finally:
            by_label: dict[str, float] = {}
            for (pid, label), seconds in self.cpu_seconds().items():  # a process new in the phase: all of it
                by_label[label] = by_label.get(label, 0.0) + seconds - cpu_before.get((pid, label), 0.0)
            self.phase_cpu_s[name] = {k: round(v, 1) for k, v in by_label.items()}
            self.phase_peak_kb[name] = self._peaks()
            self.sample_once()

    def cpu_seconds(self) -> dict[tuple[int, str], float]:
        """CPU time (user + system) used so far by each (pid, label), this benchmark's own included: by
        pid, so that a process replaced during a phase (a parse worker, the restarted API) counts right
        (what one that ended used since the phase began is lost)."""
        tick = os.sysconf("SC_CLK_TCK")
        out: dict[tuple[int, str], float] = {(os.getpid(), "benchmark client"): sum(os.times()[:2])}
        for pid, label in self._processes():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[(pid, label)] = (int(fields[11]) + int(fields[12])) / tick
        return out

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            self.sample_once()

    def sample_once(self) -> None:
        """VmHWM of each service's process and of its descendants (compute's parse worker), by label."""
        for label, kb in self._peaks().items():
            self.peak_kb[label] = max(self.peak_kb.get(label, 0), kb)

    def _peaks(self) -> dict[str, int]:
        """The largest current VmHWM (kB) among each label's processes."""
        peaks: dict[str, int] = {}
        for pid, label in self._processes():
            kb = hwm_kb(pid)
            if kb is not None:
                peaks[label] = max(peaks.get(label, 0), kb)
        return peaks

    def _processes(self) -> list[tuple[int, str]]:
        """(pid, label) of each service's process and its descendants."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(ppid, []).append(int(entry.name))
        seen: list[tuple[int, str]] = []
        for service in self.services:
            if service.process is None:
                continue
            todo = [(service.process.pid, service.name)]
            while todo:
                pid, label = todo.pop()
                seen.append((pid, label))
                todo += [(c, f"{service.name} child") for c in children.get(pid, [])]
        return seen


def hwm_kb(pid: int) -> int | None:
    return status_kb(pid, ("VmHWM",)).get("VmHWM")


def status_kb(pid: int, fields: tuple[str, ...]) -> dict[str, int]:
    """The named kB fields of /proc/PID/status ({} once the process is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {name: int(line.split()[1]) for line in lines for name in fields if line.startswith(f"{name}:")}


def cpu_info() -> dict:
    """The CPU's model name and whether it has the instructions compute's bf16 backend needs."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next(
        (ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?"
    )
    flags_line = next((ln.split(":", 1)[1] for ln in text.splitlines() if ln.startswith("flags")), "")
    flags = set(flags_line.split())
    return {
        "model": model,
        "cores": os.cpu_count(),
        "amx": {"amx_bf16", "amx_tile"} <= flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "avx512f": "avx512f" in flags,
    }
