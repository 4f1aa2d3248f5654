"""The test process's blob store (tests.support.job_queue.BLOB_DIR) as tests inspect it: the originals kept and
the uploads still staged."""

from pathlib import Path

from tests.support.job_queue import BLOB_DIR


def original_path(document_id: str) -> Path:
    return Path(BLOB_DIR) / "originals" / document_id


def originals() -> set[str]:
    return {p.name for p in (Path(BLOB_DIR) / "originals").glob("*") if p.is_file()}


def staged_files() -> list[Path]:
    return [p for p in (Path(BLOB_DIR) / "staging").glob("*") if p.is_file()]
