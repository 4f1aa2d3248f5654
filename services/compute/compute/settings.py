"""The compute service's one settings class. Every limit is finite; env vars use the COMPUTE_ prefix."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def available_cores() -> int:
    """Cores this process may really run on (cgroup/affinity aware), not the host's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMPUTE_", env_file=None, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8090
    log_level: str = "info"
    # Shared secret the orchestrator sends as `Authorization: Bearer ...`. Without one the service refuses
    # to start unless `env` is "dev" (fail closed: an open compute parses anyone's files).
    service_token: SecretStr | None = None
    env: Literal["prod", "dev"] = "prod"

    # --- parsing -------------------------------------------------------------------------------
    max_upload_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    # Pages of one PDF at most; it is parsed a window of pages per request (the orchestrator asks so).
    max_pages: int = Field(default=10_000, gt=0)
    # Pages one /parse request parses at most: a window, or a whole PDF asked for without one (a longer
    # one is refused, 413). The parse worker's memory grows with this, not with the document.
    max_window_pages: int = Field(default=200, ge=1)
    # A plain-text file up to this size is parsed in the API process (linear-time, no Docling), skipping
    # the round trip through a parse worker; 0 sends every file to a worker.
    inline_text_max_bytes: int = Field(default=1024 * 1024, ge=0, le=16 * 1024 * 1024)
    # Per request, so per window of a PDF.
    parse_timeout_s: float = Field(default=45.0, gt=0, le=3600)
    # Resident memory cap of one parse worker process; it is killed past it.
    parse_memory_mb: int = Field(default=1536, ge=256)
    # A worker still this big after a request (freed memory kept by the allocator, OCR models loaded) is
    # replaced: the next window of a long PDF starts fresh, keeping the peak under 1 GB (a resting
    # worker is about 450 MB).
    parse_recycle_rss_mb: int = Field(default=700, ge=128)
    parse_workers: int = Field(default=1, ge=1, le=16)
    # A parse worker is recycled after this many documents, so leaks in native code cannot grow forever.
    parse_max_jobs_per_worker: int = Field(default=200, ge=1)
    # Docling's cap on one decompressed zip member of an Office file (its own default is 128 MiB).
    zip_member_max_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    # Threads the parse worker may use; embedding gets the rest, so they never fight unplanned.
    parse_threads: int = Field(default=1, ge=1)
    # Where the parse pool makes its temp directory (one subdirectory per worker); default: the system's.
    parse_tmp_dir: Path | None = None
    # Directory with Docling's layout/table models; when set, PDFs use the standard (model) pipeline.
    docling_artifacts_path: Path | None = None
    ocr: bool = True
    # Scanned pages OCR'd per document at most (about 4 s a page here); the rest are reported.
    ocr_max_pages: int = Field(default=20, ge=0)

    # --- embedding -----------------------------------------------------------------------------
    default_model: str = "all-MiniLM-L6-v2"
    # Extra models: JSON object name -> local directory, e.g. {"bge-small": "/models/bge-small"}.
    models: dict[str, Path] = Field(default_factory=dict)
    # auto: bf16 where the CPU has AMX / AVX-512-BF16 (and bf16 agrees with fp32); else int8 (ONNX Runtime)
    # where it ranks fixed query/passage pairs as fp32 does and is >= 1.1x fp32 in a probe at load; else
    # fp32. fp32/bf16/int8 force one; a forced int8 that fails the agreement check refuses to start.
    embed_backend: str = Field(default="auto", pattern="^(auto|fp32|bf16|int8)$")
    # Where the int8 ONNX export of each model is cached (exported at `make setup` or first start; keyed
    # by model files, library versions and options). Default: $XDG_CACHE_HOME/docsearch/models, else
    # ~/.cache/docsearch/models. Not writable: each start exports into a temp dir (about 10 s). A
    # container bakes it at build time (`python -m compute.embedding.onnx_export`) or mounts a volume.
    model_cache_dir: Path | None = None
    embed_threads: int = Field(default_factory=available_cores, ge=1)
    # Padded word pieces per forward pass; batches are cut by this budget, not by a text count. 2048 embeds
    # as fast as 8192 here (bf16, 2 cores) and keeps resident memory 150-300 MB lower (`make bench`).
    embed_batch_tokens: int = Field(default=2048, ge=256)
    # Passages wait this long for more to embed in the same pass when fewer than 32 are waiting (queries
    # never wait): small documents' one or two texts each cost the model twice as much alone.
    embed_linger_ms: float = Field(default=20.0, ge=0, le=1000)
    # Texts waiting for the model; past it /embed answers 503 with Retry-After.
    embed_queue_max_texts: int = Field(default=4096, ge=1)
    embed_max_texts_per_request: int = Field(default=2048, ge=1)
    embed_max_chars_per_text: int = Field(default=100_000, ge=1)

    # --- chunking ------------------------------------------------------------------------------
    chunk_max_text_chars: int = Field(default=20_000_000, gt=0)
    # More chunks than this in one answer is refused (413): 1 MB of one-line sections made 62,000, and
    # building and writing them held the event loop through the collector's passes over them.
    chunk_max_chunks: int = Field(default=20_000, gt=0)

    # --- metadata ------------------------------------------------------------------------------
    # A longer text is refused (413); the patterns and the ranking read only a prefix of it (below).
    metadata_max_text_chars: int = Field(default=20_000_000, gt=0)
    # Dates, emails, URLs and names are looked for in the first this many characters (all linear-time).
    metadata_scan_chars: int = Field(default=2_000_000, gt=0, le=50_000_000)
    # Keyword and summary ranking (one embedding call) reads at most this much text.
    metadata_rank_chars: int = Field(default=200_000, gt=0, le=5_000_000)
    llm_url: str | None = None  # OpenAI-compatible base URL, e.g. http://127.0.0.1:1234/v1
    llm_model: str = "local-model"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=30.0, gt=0, le=600)
    llm_max_input_chars: int = Field(default=12_000, gt=0)

    # --- service -------------------------------------------------------------------------------
    retry_after_s: int = Field(default=1, ge=1)
    # Overall cap on one request body other than /parse uploads (JSON of /chunk, /embed, ...).
    max_json_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
