"""Limits handed to a parse worker process (kept apart so the API process never imports Docling)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_pages: int
    max_window_pages: int
    zip_member_max_bytes: int
    zip_total_max_bytes: int
    zip_max_members: int = 10_000
    ocr: bool = True
    ocr_max_pages: int = 20
    parse_threads: int = 1
    artifacts_path: str | None = None
