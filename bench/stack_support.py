"""What the whole-stack benchmark's parts share: the stack itself (started as `make run` does, on free
ports, its API restartable), peak memory of its processes, the CPU's name and flags, the API's Prometheus
figures, the search request, SciFact loading, and the API calls that upload and follow documents."""

import contextlib
import gzip
import json
import os
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from deploy import run_stack
from tests.support import SHARED, free_port

SCIFACT = SHARED / "retrieval" / "scifact"
API_WORKERS = int(os.environ.get("ORCH_API_WORKERS", "4"))  # jobs at once in the API process, as make run
EMBED_BATCH_TEXTS = 128  # the orchestrator's default ORCH_EMBED_BATCH_TEXTS
# Every measured search sends it: the query cache would otherwise answer the repeated queries.
NO_CACHE = {"Cache-Control": "no-cache"}
MODES = ("dense", "lexical", "hybrid")  # SearchRequest.mode: each part measures all three


# ---------------------------------------------------------------- the stack and its memory


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


# ---------------------------------------------------------------- the CPU and the API's metrics


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


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def metric_families(api_url: str, prefix: str) -> dict[str, list[float]]:
    """Every sample of the API's /metrics whose name starts with prefix, by name without the prefix nor a
    counter's `_total` (so `_rebuilds_total` and `_rebuilds` read alike); `_created` samples are left out.
    A fresh request, so it works across an API restart."""
    text = httpx.get(f"{api_url}/metrics", timeout=30).raise_for_status().text
    out: dict[str, list[float]] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or not match[1].startswith(prefix) or match[1].endswith("_created"):
            continue
        out.setdefault(match[1].removeprefix(prefix).removesuffix("_total"), []).append(float(match[3]))
    return out


# ---------------------------------------------------------------- searches


def search_json(query: str, name: str, top_k: int, mode: str) -> dict:
    """The body of POST /api/v1/search, `mode` always named (one of MODES), as every part measures one."""
    return {"query": query, "collections": [name], "top_k": top_k, "mode": mode}


# ---------------------------------------------------------------- SciFact


def load_scifact() -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh]
    queries = {}
    for line in (SCIFACT / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        queries[q["_id"]] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    return corpus, queries, qrels


def doc_text(doc: dict, copy: int = 0) -> str:
    marker = f"[copy {copy}] " if copy else ""
    return f"{marker}{doc.get('title', '')}\n\n{doc.get('text', '')}\n"


def grouped(corpus: list[dict], per_file: int, copy: int = 0) -> list[dict]:
    """SciFact abstracts `per_file` to an uploaded file: a document of a few pages instead of one abstract."""
    return [
        {
            "_id": f"group-{copy}-{i}",
            "title": f"SciFact abstracts {i}-{i + len(part) - 1}",
            "text": "\n\n".join(doc_text(d, copy) for d in part),
        }
        for i, part in ((i, corpus[i : i + per_file]) for i in range(0, len(corpus), per_file))
    ]


# ---------------------------------------------------------------- API helpers


def create_collection(api: httpx.Client, name: str, chunking: dict | None = None) -> None:
    body = {"name": name, "chunking": chunking or {}}
    api.post("/api/v1/collections", json=body).raise_for_status()


def upload_all(
    api: httpx.Client, collection: str, docs: list[dict], copy: int = 0, threads: int = 4
) -> list[dict]:
    def one(doc: dict) -> dict:
        files = {"file": (f"{doc['_id']}.txt", doc_text(doc, copy).encode(), "text/plain")}
        data = {"metadata": json.dumps({"doc_id": doc["_id"], "copy": copy}), "on_duplicate": "reject"}
        for attempt in range(5):
            resp = api.post(f"/api/v1/collections/{collection}/documents", files=files, data=data)
            if resp.status_code != 429 and resp.status_code < 500:
                break
            time.sleep(0.5 * (attempt + 1))
        resp.raise_for_status()
        return resp.json()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, docs))


def wait_jobs(api: httpx.Client, job_ids: list[str], timeout_s: float = 3 * 3600) -> list[dict]:
    """Every job's final record (jobs run roughly in order, so one poll per job mostly suffices)."""
    deadline = time.monotonic() + timeout_s
    finals = []
    for job_id in job_ids:
        while True:
            job = api.get(f"/api/v1/jobs/{job_id}").raise_for_status().json()
            if job["status"] in ("succeeded", "failed", "cancelled", "dead"):
                finals.append(job)
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"job {job_id} did not end in time")
            time.sleep(0.2)
    return finals


def document(api: httpx.Client, document_id: str) -> dict:
    return api.get(f"/api/v1/documents/{document_id}").raise_for_status().json()


def chunk_texts(api: httpx.Client, document_id: str) -> list[str]:
    texts, cursor = [], None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/api/v1/documents/{document_id}/chunks", params=params).raise_for_status().json()
        texts += [c["text"] for c in page["chunks"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return texts


def ingest(api: httpx.Client, collection: str, docs: list[dict], copy: int = 0) -> dict:
    """Uploads, waits, and returns chunks, seconds (first upload to last job end) and the document ids."""
    started_ms = time.time() * 1000
    accepted = upload_all(api, collection, docs, copy)
    jobs = wait_jobs(api, [a["job_id"] for a in accepted])
    failed = [j for j in jobs if j["status"] != "succeeded"]
    if failed:
        print(f"  warning: {len(failed)} ingest jobs did not succeed (first: {failed[0].get('error')})")
    ended_ms = max(j["finished_at_ms"] or 0 for j in jobs)
    ids = [a["document_id"] for a in accepted]
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda d: document(api, d).get("chunk_count") or 0, ids))
    return {
        "documents": len(ids),
        "failed": len(failed),
        "chunks": sum(counts),
        "seconds": (ended_ms - started_ms) / 1000,
        "document_ids": ids,
    }
