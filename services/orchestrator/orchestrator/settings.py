"""The orchestrator's one settings class: every knob, with finite limits, read from `ORCH_*` variables."""

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCH_", extra="ignore", frozen=True)

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_connect_timeout_s: float = Field(2.0, gt=0, le=60)
    # Must outlast the longest blocking read (idle_block_s), or an idle wait would look like a dead server.
    redis_socket_timeout_s: float = Field(10.0, gt=0, le=300)

    # Bounded API (issue 10): the Redis pool waits for a free connection instead of failing at once; a
    # wait past redis_pool_timeout_s is answered 503 with Retry-After. Event streams (SSE) never hold a
    # pooled connection: one reader per process serves them all, within their own caps (429 past them).
    redis_max_connections: int = Field(64, ge=2, le=10_000)
    redis_pool_timeout_s: float = Field(5.0, gt=0, le=120)
    sse_max_streams: int = Field(1_000, ge=1, le=100_000)  # open event streams per API process
    sse_max_streams_per_key: int = Field(100, ge=1, le=100_000)  # per API key (client address without keys)
    sse_heartbeat_s: float = Field(15.0, gt=0, le=300)  # a comment line this often, so dead clients show

    # Worker pool.
    concurrency: int = Field(4, ge=1, le=256)
    handlers: str = Field(
        "orchestrator.ingest:build_handlers",
        description="module:attribute of the factory (clients) -> {job type: handler}",
    )
    # A job's lease lapses when its worker has not renewed it for lease_s; another worker may then take it.
    lease_s: float = Field(30.0, gt=0, le=3600)
    heartbeat_s: float = Field(5.0, gt=0, le=600)
    # Longest an idle worker waits for new work before it looks again for lapsed leases and due retries.
    idle_block_s: float = Field(1.0, gt=0, le=60)
    shutdown_deadline_s: float = Field(30.0, ge=0, le=3600)
    reconnect_base_s: float = Field(0.05, gt=0, le=60)
    reconnect_max_s: float = Field(5.0, gt=0, le=600)

    # Retries and dead letters.
    max_deliveries: int = Field(5, ge=1, le=100)
    retry_base_s: float = Field(1.0, gt=0, le=3600)
    retry_max_s: float = Field(300.0, gt=0, le=86_400)

    # Retention, so that nothing in Redis grows without bound.
    idempotency_ttl_s: int = Field(86_400, ge=1, le=30 * 86_400)
    events_ttl_s: int = Field(86_400, ge=1, le=30 * 86_400)
    events_maxlen: int = Field(1_000, ge=10, le=100_000)
    dead_letters_maxlen: int = Field(100_000, ge=100, le=10_000_000)
    # Finished jobs (dead ones excepted) are forgotten this long after they end, by the reconciler; 0 keeps them.
    job_retention_s: int = Field(7 * 86_400, ge=0, le=365 * 86_400)

    metrics_port: int | None = Field(None, ge=1, le=65_535)

    # The HTTP API and what it runs beside it.
    env: Literal["prod", "dev"] = "prod"  # dev: may run without API keys (and says so loudly)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65_535)
    api_keys: str = Field("", description="comma-separated API keys for `Authorization: Bearer`")
    cors_origins: str = Field("", description="comma-separated allowed CORS origins (none by default)")
    # The operator console's built files (services/orchestrator/console, built by `make setup`), served at
    # /console; empty: next to this package, where the build puts them.
    console_dir: str = ""
    api_workers: int = Field(2, ge=0, le=256)  # jobs at once in the API process's own worker pool; 0: none
    max_upload_bytes: int = Field(100 * 1024 * 1024, ge=1, le=10 * 1024**3)
    # Every other request body (JSON: search, collections, patches): read whole before the key check runs.
    max_json_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)

    # Blob store and uploads (issue 10). Originals live in the blob store, never in Redis: a directory
    # (relative to the working directory, or file:///abs/path) or s3://bucket/prefix, whose credentials
    # and endpoint come from the standard AWS_* variables.
    blob_url: str = Field("data/blobs", min_length=1)
    # False: a document's original is deleted once it is ready (a re-ingest is then 409 original_not_kept).
    keep_originals: bool = True
    # A document's password (an encrypted PDF's) is kept for its job only, at most this long.
    job_secret_ttl_s: int = Field(86_400, ge=60, le=30 * 86_400)
    default_chunk_strategy: str = "markdown"
    default_chunk_max_tokens: int | None = Field(None, ge=16, le=8192)  # None: what the model reads
    search_max_top_k: int = Field(100, ge=1, le=1_000)
    # Hybrid search (issue 12). Each API process keeps a lexical index of its own under lexical_dir (one
    # slot-N directory per process), following the registry's change stream; workers hold none.
    lexical_dir: str = Field("data/lexical", min_length=1)
    # False: this API process holds no index (a process that only runs workers and serves /readyz); its
    # lexical and hybrid searches answer 503 index_not_ready, and /readyz leaves the index out.
    lexical_enabled: bool = True
    # Reciprocal rank fusion: score = sum over sides of weight / (k + rank); a request may override them.
    fusion_k: float = Field(60.0, gt=0, le=10_000)
    fusion_dense_weight: float = Field(1.0, ge=0, le=100)
    fusion_lexical_weight: float = Field(1.0, ge=0, le=100)
    # Read-your-writes: a lexical or hybrid search waits at most this long for this process's index to
    # apply the changes made before it began (a follower commits within ~0.2 s), then goes on without them.
    search_freshness_wait_s: float = Field(1.0, ge=0, le=60)
    # The query cache in Redis: 0 s turns it off. Entries are keyed by each collection's version, so an
    # answer is never served after a change; the TTL and the entry cap bound what it holds.
    # It shares Redis with the registry: at most max_entries x max_entry_bytes (64 MiB by default).
    search_cache_ttl_s: int = Field(300, ge=0, le=86_400)
    search_cache_max_entries: int = Field(1_000, ge=1, le=1_000_000)
    search_cache_max_entry_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    reconcile_interval_s: float = Field(300.0, ge=0, le=86_400)  # 0: only on demand
    reconcile_grace_s: float = Field(600.0, ge=0, le=7 * 86_400)  # vectors younger than this are left alone
    # Per API key (per client address in dev mode without keys), per minute; 0 turns a limit off.
    uploads_per_min: int = Field(300, ge=0, le=1_000_000)
    searches_per_min: int = Field(1_200, ge=0, le=1_000_000)

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    # The vector store and the compute service.
    # The Chroma server (never exposed publicly); every call to it is bounded by chroma_timeout_s.
    chroma_url: str = "http://127.0.0.1:8000"
    chroma_timeout_s: float = Field(30.0, gt=0, le=600)
    # Compute replicas: ORCH_COMPUTE_URLS is comma-separated; a retry moves on to another replica.
    compute_urls: Annotated[list[str], NoDecode] = ["http://127.0.0.1:8090"]
    compute_token: SecretStr | None = None  # sent to compute as `Authorization: Bearer ...`
    compute_connect_timeout_s: float = Field(5.0, gt=0, le=120)
    # Read timeouts per endpoint: a parse of a large document runs for minutes, an embed batch for seconds.
    compute_parse_timeout_s: float = Field(600.0, gt=0, le=3600)
    compute_chunk_timeout_s: float = Field(120.0, gt=0, le=3600)
    compute_embed_timeout_s: float = Field(120.0, gt=0, le=3600)
    compute_metadata_timeout_s: float = Field(120.0, gt=0, le=3600)
    compute_max_attempts: int = Field(4, ge=1, le=20)  # tries per call, across replicas
    compute_backoff_base_s: float = Field(0.5, gt=0, le=60)
    compute_backoff_max_s: float = Field(10.0, gt=0, le=600)  # also caps a server's Retry-After
    embed_batch_texts: int = Field(128, ge=1, le=4096)  # texts per /embed request
    # A PDF is parsed this many pages per /parse request (at most compute's COMPUTE_MAX_WINDOW_PAGES): a
    # parse worker's memory is bounded by the window, a finished window is kept for a retry to resume
    # from, and the job's progress advances window by window.
    parse_window_pages: int = Field(50, ge=1, le=10_000)
    # The whole parse of a document may take this long per page (each window has compute's own cap too);
    # never less than compute_parse_timeout_s.
    parse_s_per_page: float = Field(1.0, gt=0, le=600)

    @field_validator("compute_urls", mode="before")
    @classmethod
    def _split_compute_urls(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            urls = [str(url).strip().rstrip("/") for url in value if str(url).strip()]
            if not urls:
                raise ValueError("compute_urls needs at least one URL")
            return urls
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.heartbeat_s * 2 > self.lease_s:
            raise ValueError("heartbeat_s must be at most half of lease_s, or healthy leases lapse")
        if self.idle_block_s >= self.redis_socket_timeout_s:
            raise ValueError("idle_block_s must be shorter than redis_socket_timeout_s")
        if self.retry_base_s > self.retry_max_s:
            raise ValueError("retry_base_s must not exceed retry_max_s")
        if self.reconnect_base_s > self.reconnect_max_s:
            raise ValueError("reconnect_base_s must not exceed reconnect_max_s")
        if self.redis_max_connections < max(self.concurrency, self.api_workers) + 2:
            # Each running job holds a connection at times; the API's requests need a few more.
            raise ValueError("redis_max_connections must exceed the jobs a process runs at once by 2")
        if self.fusion_dense_weight == 0 and self.fusion_lexical_weight == 0:
            raise ValueError("fusion_dense_weight and fusion_lexical_weight cannot both be 0")
        if self.compute_backoff_base_s > self.compute_backoff_max_s:
            raise ValueError("compute_backoff_base_s must not exceed compute_backoff_max_s")
        return self
