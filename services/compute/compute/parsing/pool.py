"""A pool of parse worker processes with a hard wall-clock and memory cap per job (one request: a whole
document, or one window of a PDF's pages).

Workers are spawned, never forked from a process that holds torch threads. A job past `parse_timeout_s`,
or whose worker passes `parse_memory_mb`, gets its worker killed and replaced. A worker that crashed on
its own failed on the document (`corrupt_document`); one killed from outside by SIGKILL says nothing of
it (`worker_lost`, retryable). Each worker's TMPDIR, under the pool's, goes when the worker does.
"""

import asyncio
import logging
import multiprocessing as mp
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import compute.parsing.worker as worker
from compute import formats
from compute.errors import ComputeError
from compute.parsing.limits import Limits
from compute.settings import Settings
from contracts import ErrorCode

log = logging.getLogger("compute.parse.pool")
_CTX = mp.get_context("spawn")
POLL_S = 0.05
START_TIMEOUT_S = 180.0
ROOT_PREFIX = "compute-parse-"


@dataclass(frozen=True)
class ParseJob:
    data: bytes
    filename: str | None
    password: str | None = None
    window: tuple[int, int] | None = None  # (first_page, page_count)
    continuation: dict | None = None  # as the previous window answered it, already checked
    include_document: bool = False

    def message(self) -> tuple:
        options = {
            "window": self.window,
            "continuation": self.continuation,
            "include_document": self.include_document,
        }
        return (self.data, self.filename, self.password, options)


@dataclass
class ParseOutcome:
    payload: dict
    peak_rss_mb: float


class _Slot:
    def __init__(self, index: int):
        self.index = index
        self.proc: mp.process.BaseProcess | None = None
        self.conn = None
        self.jobs = 0
        self.tmp_dir: Path | None = None


class ParsePool:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.limits = Limits(
            max_pages=settings.max_pages,
            max_window_pages=settings.max_window_pages,
            zip_member_max_bytes=settings.zip_member_max_bytes,
            zip_total_max_bytes=settings.zip_member_max_bytes * 8,
            ocr=settings.ocr,
            ocr_max_pages=settings.ocr_max_pages,
            parse_threads=settings.parse_threads,
            artifacts_path=str(settings.docling_artifacts_path) if settings.docling_artifacts_path else None,
        )
        self._idle: asyncio.Queue[_Slot] = asyncio.Queue()
        self._slots = [_Slot(i) for i in range(settings.parse_workers)]
        self._waiting = 0
        self.peak_rss_mb = 0.0  # largest per-job peak seen, for /metrics and the benchmark
        self.restarts = 0
        self.tmp_root: Path | None = None

    @property
    def ready(self) -> bool:
        return self._idle.qsize() > 0 or any(s.proc is not None and s.proc.is_alive() for s in self._slots)

    async def start(self) -> None:
        parent = self.settings.parse_tmp_dir
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        _sweep_orphans(Path(parent or tempfile.gettempdir()))
        self.tmp_root = Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-", dir=parent))
        await asyncio.gather(*(self._spawn(slot) for slot in self._slots))

    async def close(self) -> None:
        for slot in self._slots:
            self._kill(slot, graceful=True)
        if self.tmp_root is not None:
            shutil.rmtree(self.tmp_root, ignore_errors=True)

    async def parse(self, job: ParseJob) -> ParseOutcome:
        if self._waiting >= self.settings.parse_workers * 4:
            raise ComputeError(
                ErrorCode.overloaded,
                "parse workers are busy; retry shortly",
                retry_after_s=self.settings.retry_after_s,
            )
        self._waiting += 1
        try:
            slot = await self._idle.get()
        finally:
            self._waiting -= 1
        replace = False
        try:
            # In a thread: the event loop never waits on a worker's pipe.
            reply = await asyncio.to_thread(self._run, slot, job)
            # A worker that stays big after a large document is replaced before it hits the cap.
            replace = worker.rss_kb(slot.proc.pid) > self.settings.parse_recycle_rss_mb * 1024  # type: ignore[union-attr]
        except ComputeError:
            replace = True
            raise
        finally:
            slot.jobs += 1
            if replace or slot.jobs >= self.settings.parse_max_jobs_per_worker:
                self._kill(slot)
                asyncio.get_running_loop().create_task(self._spawn(slot))
            else:
                self._idle.put_nowait(slot)
        status, *rest = reply
        peak_mb = rest[-1] / 1024
        self.peak_rss_mb = max(self.peak_rss_mb, peak_mb)
        if status == "ok":
            return ParseOutcome(payload=rest[0], peak_rss_mb=round(peak_mb, 1))
        code, message = rest[0], rest[1]
        raise ComputeError(ErrorCode(code), message)

    def _run(self, slot: _Slot, job: ParseJob) -> tuple:
        """Send one job and wait for its reply, killing the worker past the time or memory cap."""
        assert slot.conn is not None and slot.proc is not None
        timeout_s = self.settings.parse_timeout_s
        cap_kb = self.settings.parse_memory_mb * 1024
        started = time.monotonic()
        try:
            slot.conn.send(job.message())
            while not slot.conn.poll(POLL_S):
                if not slot.proc.is_alive():
                    raise EOFError
                if time.monotonic() - started > timeout_s:
                    raise ComputeError(
                        ErrorCode.timeout, f"parsing took longer than {timeout_s:g} s and was stopped"
                    )
                used_kb = worker.rss_kb(slot.proc.pid)
                if used_kb > cap_kb:
                    raise ComputeError(ErrorCode.memory_limit, self._over_memory(job))
            return slot.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError) as exc:
            slot.proc.join(1.0)  # its exit code tells a crash from a kill
            exitcode = slot.proc.exitcode
            log.warning("parse worker %d died mid-job (exit %s)", slot.index, exitcode)
            if exitcode == -signal.SIGKILL:
                raise ComputeError(
                    ErrorCode.worker_lost,
                    "the parse worker was killed from outside mid-document (out of memory?); try again",
                    retry_after_s=self.settings.retry_after_s,
                ) from exc
            raise ComputeError(
                ErrorCode.corrupt_document, "the parser crashed on this document (its process died)"
            ) from exc

    def _over_memory(self, job: ParseJob) -> str:
        message = f"parsing needed more than {self.settings.parse_memory_mb} MB and was stopped"
        if formats.is_pdf(job.data):
            return message + " (one window of its pages: ask for fewer pages per window)"
        # Docling's DOCX, PPTX, XLSX, HTML and text backends read a file whole: there is no window to
        # make smaller, so the file itself is too big for this service.
        return (
            message
            + "; only PDFs are parsed in windows of pages, this format is parsed whole: split the file"
        )

    async def _spawn(self, slot: _Slot) -> None:
        assert self.tmp_root is not None
        tmp_dir = Path(tempfile.mkdtemp(prefix=f"worker-{slot.index}-", dir=self.tmp_root))
        parent, child = _CTX.Pipe()
        proc = _CTX.Process(
            target=worker.main,
            args=(child, self.limits.__dict__, self.settings.parse_threads, str(tmp_dir)),
            daemon=True,
            name=f"parse-worker-{slot.index}",
        )
        proc.start()
        child.close()
        slot.proc, slot.conn, slot.jobs, slot.tmp_dir = proc, parent, 0, tmp_dir
        ok = await asyncio.to_thread(parent.poll, START_TIMEOUT_S)
        if not ok or not proc.is_alive():
            log.error("parse worker %d failed to start", slot.index)
            self._kill(slot)
            await asyncio.sleep(1.0)
            asyncio.get_running_loop().create_task(self._spawn(slot))
            return
        parent.recv()  # ("ready",)
        self._idle.put_nowait(slot)

    def _kill(self, slot: _Slot, graceful: bool = False) -> None:
        proc, conn, tmp_dir = slot.proc, slot.conn, slot.tmp_dir
        slot.proc, slot.conn, slot.tmp_dir = None, None, None
        if proc is None:
            return
        self.restarts += 0 if graceful else 1
        try:
            if graceful and conn is not None:
                conn.send(None)
                proc.join(2.0)
        except (OSError, BrokenPipeError):
            pass
        if proc.is_alive():
            proc.kill()
        proc.join(5.0)
        if conn is not None:
            conn.close()
        if tmp_dir is not None:  # the worker is gone: nothing of its files is in use any more
            shutil.rmtree(tmp_dir, ignore_errors=True)


def _sweep_orphans(parent: Path) -> None:
    """Remove pool directories whose process is gone (killed before its shutdown could clean up)."""
    for path in parent.glob(f"{ROOT_PREFIX}*-*"):
        pid = path.name.removeprefix(ROOT_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to clean
        return True
    return True
