"""The parse worker process: imports Docling once, then converts documents sent over a pipe.

It runs apart from the API process so that a document that hangs, eats memory or crashes native
code can be killed without taking the service down. Messages are plain tuples:
  parent -> child: (data, filename, password, options) with options {"window": (first_page, page_count)
                   or None, "continuation": dict or None, "include_document": bool}
  child -> parent: ("ready",) once, then per job ("ok", payload, peak_rss_kb) or
                   ("error", code, message, peak_rss_kb)
"""

import gc
import logging
import os
import shutil
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path

from compute import memory


def _status_kb(pid: int | str, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss_kb(pid: int | str = "self") -> int:
    """VmHWM: the process's peak resident memory since start or the last reset."""
    return _status_kb(pid, "VmHWM")


def rss_kb(pid: int) -> int:
    return _status_kb(pid, "VmRSS")


def _reset_peak() -> None:
    # Writing 5 to clear_refs resets VmHWM, so each job reports its own peak.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def _release_memory() -> None:
    """Hand freed heap back to the OS, so a big document does not leave the worker big."""
    gc.collect()
    memory.trim()


def _use_tmp_dir(tmp_dir: str) -> None:
    """Every temp file of this process goes to its own directory, which the pool removes with it."""
    for var in ("TMPDIR", "TEMP", "TMP"):
        os.environ[var] = tmp_dir
    tempfile.tempdir = tmp_dir


def _entries(tmp_dir: str) -> set[Path]:
    try:
        return set(Path(tmp_dir).iterdir())
    except OSError:
        return set()


def _empty(tmp_dir: str, keep: set[Path]) -> None:
    """Between documents, what a backend left behind goes (not what the imports made before the first)."""
    for entry in _entries(tmp_dir) - keep:
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except OSError:
            pass


def main(conn: Connection, limits_dict: dict, threads: int, tmp_dir: str) -> None:
    # Set before numpy/torch/onnxruntime load, so the parser keeps to its share of the cores.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    _use_tmp_dir(tmp_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)
    from compute.parsing.convert import Converter, ParseFailure, short_reason
    from compute.parsing.limits import Limits
    from compute.parsing.windows import Continuation, Window

    converter = Converter(Limits(**limits_dict))
    # Docling's modules are millions of objects: a full collection after each document would scan them all
    # (about 200 ms here, more than parsing a small file takes). Frozen, they are never scanned again.
    gc.collect()
    gc.freeze()
    at_start = _entries(tmp_dir)
    conn.send(("ready",))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        data, filename, password, options = job
        _reset_peak()
        try:
            window = Window(*options["window"]) if options.get("window") else None
            carried = options.get("continuation")
            continuation = Continuation.model_validate(carried) if carried else None
            converted = converter.convert(
                data,
                filename,
                password,
                window=window,
                continuation=continuation,
                include_document=bool(options.get("include_document")),
            )
            reply = ("ok", converted)
        except ParseFailure as exc:
            reply = ("error", exc.code, exc.message)
        except MemoryError:
            reply = ("error", "memory_limit", "the document needs more memory than the parser may use")
        except Exception as exc:  # a Docling bug on odd input: the document is the problem, not us
            logging.getLogger("compute.parse").exception("parse failed")
            reply = (
                "error",
                "corrupt_document",
                f"the document could not be parsed: {type(exc).__name__}: {short_reason(exc, 200)}",
            )
        peak = peak_rss_kb()
        _empty(tmp_dir, at_start)
        _release_memory()
        conn.send((*reply, peak))
