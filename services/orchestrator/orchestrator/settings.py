"""The orchestrator's one settings class: every knob, with finite limits, read from `ORCH_*` variables.

Each field's description is its documentation: `make docs` renders them into docs/configuration.md."""

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from contracts import MAX_CHUNK_TOKENS, MAX_DOCUMENT_BYTES, MIN_CHUNK_TOKENS, ChunkStrategy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORCH_", extra="ignore", frozen=True)

    # Redis: the registry, the job queue, progress, dead letters, the query cache.
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis to use (`redis://user:password@host:port/db` for an ACL user).",
    )
    redis_connect_timeout_s: float = Field(2.0, gt=0, le=60, description="Timeout to connect to Redis.")
    redis_socket_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Timeout of one Redis reply. Longer than `ORCH_IDLE_BLOCK_S`, the longest blocking read, "
        "or an idle wait would look like a dead server.",
    )

    # A request waits for a free pooled connection instead of failing at once. Event streams (SSE) never
    # hold a pooled connection: one reader per process serves them all, within their own caps.
    redis_max_connections: int = Field(
        64,
        ge=2,
        le=10_000,
        description="Redis connections per process, at least the jobs it runs at once plus 2.",
    )
    redis_pool_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        description="How long a request waits for a free Redis connection; past it the API answers 503 "
        "`unavailable` with `Retry-After`.",
    )
    sse_max_streams: int = Field(
        1_000,
        ge=1,
        le=100_000,
        description="Open job event streams (SSE) per API process; past it 429 `too_many_streams`.",
    )
    sse_max_streams_per_key: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Open job event streams per API key (per client address without keys); past it 429.",
    )
    sse_heartbeat_s: float = Field(
        15.0,
        gt=0,
        le=300,
        description="A quiet event stream gets a `: keep-alive` comment this often, so dead clients show.",
    )

    # Worker pool.
    concurrency: int = Field(
        4, ge=1, le=256, description="Jobs at once in a `worker` process (`--concurrency`)."
    )
    handlers: str = Field(
        "orchestrator.ingest:build_handlers",
        description="The job handler factory, `module:attribute`: called with the process's clients, it "
        "returns {job type: handler}.",
    )
    lease_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="A job's lease: when its worker has not renewed it for this long, another worker may "
        "take the job over.",
    )
    heartbeat_s: float = Field(
        5.0,
        gt=0,
        le=600,
        description="How often a worker renews its jobs' leases (at most half of `ORCH_LEASE_S`).",
    )
    idle_block_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="Longest an idle worker waits for new work before it looks again for lapsed leases and "
        "due retries.",
    )
    shutdown_deadline_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="On SIGTERM, how long running jobs (and open requests) get to finish; the jobs still "
        "running then go back to the queue.",
    )
    reconnect_base_s: float = Field(0.05, gt=0, le=60, description="First backoff while Redis is away.")
    reconnect_max_s: float = Field(5.0, gt=0, le=600, description="Longest backoff while Redis is away.")

    # Retries and dead letters.
    max_deliveries: int = Field(
        5, ge=1, le=100, description="Attempts of a job before it goes to the dead-letter queue."
    )
    retry_base_s: float = Field(
        1.0, gt=0, le=3600, description="First backoff before a job's retry (exponential, with jitter)."
    )
    retry_max_s: float = Field(300.0, gt=0, le=86_400, description="Longest backoff before a job's retry.")

    # Retention, so that nothing in Redis grows without bound.
    idempotency_ttl_s: int = Field(
        86_400, ge=1, le=30 * 86_400, description="How long an upload's `Idempotency-Key` is remembered."
    )
    events_ttl_s: int = Field(
        86_400, ge=1, le=30 * 86_400, description="How long a job's event stream is kept after the job ends."
    )
    events_maxlen: int = Field(1_000, ge=10, le=100_000, description="Most events kept per job.")
    dead_letters_maxlen: int = Field(
        100_000, ge=100, le=10_000_000, description="Most entries kept in the dead-letter queue."
    )
    job_retention_s: int = Field(
        7 * 86_400,
        ge=0,
        le=365 * 86_400,
        description="Finished jobs (dead ones excepted) are forgotten this long after they end, by the "
        "reconciler; 0 keeps them.",
    )

    metrics_port: int | None = Field(
        None, ge=1, le=65_535, description="Port of a `worker` process's Prometheus metrics; unset: none."
    )

    # The HTTP API and what it runs beside it.
    env: Literal["prod", "dev"] = Field(
        "prod",
        description="`dev` may run without API keys (and says so loudly); `prod` refuses to start without them.",
    )
    host: str = Field("127.0.0.1", description="Address `python -m orchestrator api` listens on (`--host`).")
    port: int = Field(
        8080, ge=1, le=65_535, description="Port `python -m orchestrator api` listens on (`--port`)."
    )
    api_keys: str = Field(
        "",
        description="Comma-separated API keys for `Authorization: Bearer`; required unless `ORCH_ENV=dev`. "
        "Each at least 32 characters and not a shipped placeholder (`replace-me...`), or the API refuses "
        "to start.",
    )
    cors_origins: str = Field("", description="Comma-separated allowed CORS origins (none by default).")
    public_docs: bool = Field(
        False,
        description="`true`: serve `/docs` and `/openapi.json` in prod too (dev mode always serves them); the "
        "published schema is the committed `docs/openapi.json`.",
    )
    console_dir: str = Field(
        "",
        description="The built operator console served at /console; empty: "
        "`services/orchestrator/console/dist`, where `make setup` builds it.",
    )
    api_workers: int = Field(
        2,
        ge=0,
        le=256,
        description="Jobs at once in the API process's own worker pool (`--workers`); 0: none.",
    )
    max_upload_bytes: int = Field(
        MAX_DOCUMENT_BYTES,
        ge=1,
        le=10 * 1024**3,
        description="Largest upload, counted while it streams (413 `too_large`). Keep it at most compute's "
        "`COMPUTE_MAX_UPLOAD_BYTES` (the same default), or a larger file is stored only to fail at parse.",
    )
    # FastAPI reads a JSON body whole before the API key check runs: hence a cap of its own.
    max_json_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest body of every other request (search, collections, patches), counted while it "
        "streams (413 `too_large`).",
    )

    # Blob store and uploads: originals live in the blob store, never in Redis.
    blob_url: str = Field(
        "data/blobs",
        min_length=1,
        description="Where originals live: a directory (relative to the working directory), "
        "`file:///abs/path`, or `s3://bucket/prefix` (credentials, region and endpoint from the standard "
        "`AWS_*` variables). Every API and worker process must see the same store.",
    )
    keep_originals: bool = Field(
        True,
        description="`false`: a document's original is deleted once it is ready; re-ingest and download then "
        "answer 409 `original_not_kept`.",
    )
    job_secret_ttl_s: int = Field(
        86_400,
        ge=60,
        le=30 * 86_400,
        description="Longest a document's password (an encrypted PDF's) is kept; it is deleted as soon as "
        "its job ends.",
    )
    default_chunk_strategy: ChunkStrategy = Field(
        ChunkStrategy.markdown,
        description="Chunking strategy when neither the upload nor the collection sets one.",
    )
    default_chunk_max_tokens: int | None = Field(
        None,
        ge=MIN_CHUNK_TOKENS,
        le=MAX_CHUNK_TOKENS,
        description="Chunk size when neither the upload nor the collection sets one; unset: what the "
        "embedding model reads.",
    )
    search_max_top_k: int = Field(
        100, ge=1, le=1_000, description="Largest `top_k` a search may ask for (422 past it)."
    )
    # Hybrid search: each API process keeps a lexical index of its own; workers hold none.
    lexical_dir: str = Field(
        "data/lexical",
        min_length=1,
        description="Where each API process keeps its lexical index (a `slot-N` directory per process, "
        "rebuilt from Chroma when missing). Local disk, never shared storage.",
    )
    lexical_enabled: bool = Field(
        True,
        description="`false`: this process holds no lexical index (a process that only runs workers); its "
        "lexical and hybrid searches answer 503 `index_not_ready`, and /readyz leaves the index out.",
    )
    fusion_k: float = Field(
        60.0,
        gt=0,
        le=10_000,
        description="Hybrid search's reciprocal rank fusion: a chunk scores the sum of weight / (k + rank) "
        "over the sides that found it. A request's `fusion` overrides it.",
    )
    fusion_dense_weight: float = Field(
        1.0, ge=0, le=100, description="Weight of dense search in the fusion; 0 leaves it out."
    )
    fusion_lexical_weight: float = Field(
        1.0, ge=0, le=100, description="Weight of lexical search in the fusion; 0 leaves it out."
    )
    search_freshness_wait_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="Longest a lexical or hybrid search waits for its process's index to apply the changes "
        "made before it began, then answers without them; 0: never waits.",
    )
    # The query cache shares Redis with the registry: at most max_entries x max_entry_bytes (64 MiB).
    search_cache_ttl_s: int = Field(
        300, ge=0, le=86_400, description="Lifetime of a query cache entry; 0 turns the cache off."
    )
    search_cache_max_entries: int = Field(
        1_000, ge=1, le=1_000_000, description="Most query cache entries; the oldest go first."
    )
    search_cache_max_entry_bytes: int = Field(
        64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest answer the query cache stores.",
    )
    reconcile_interval_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="How often each API process runs the reconciler; 0: only on demand.",
    )
    reconcile_grace_s: float = Field(
        600.0,
        ge=0,
        le=7 * 86_400,
        description="The reconciler leaves vectors younger than this alone (an ingest may still be writing "
        "them).",
    )
    # A moving window keeps one entry per request of the last minute, per client: hence the upper bounds.
    uploads_per_min: int = Field(
        300,
        ge=0,
        le=100_000,
        description="Uploads per minute per API key (per client address in dev mode without keys), counted "
        "with re-ingests, job retries, dead-letter replays and document patches; 0: no limit.",
    )
    searches_per_min: int = Field(
        1_200,
        ge=0,
        le=100_000,
        description="Searches per minute per API key (per client address in dev mode without keys); 0: no "
        "limit.",
    )

    collections_per_min: int = Field(
        60,
        ge=0,
        le=10_000,
        description="Collections created per minute per API key (per client address in dev mode without keys); "
        "0: no limit.",
    )
    max_collections: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Most collections in the deployment (deleting ones count until their job ends); past it "
        "409 `too_many_collections`.",
    )
    reconciles_per_min: int = Field(
        6,
        ge=0,
        le=1_000,
        description="On-demand reconcile rounds (`POST /api/v1/admin/reconcile`) per minute per API key (per "
        "client address in dev mode without keys); 0: no limit. One round runs at a time in the deployment "
        "either way (409 `reconcile_running`).",
    )

    @property
    def api_key_list(self) -> list[str]:
        return [k.strip() for k in self.api_keys.split(",") if k.strip()]

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    # The vector store and the compute service.
    chroma_url: str = Field(
        "http://127.0.0.1:8000", description="The Chroma server (never exposed publicly)."
    )
    chroma_timeout_s: float = Field(30.0, gt=0, le=600, description="Bound on every call to Chroma.")
    compute_urls: Annotated[list[str], NoDecode] = Field(
        ["http://127.0.0.1:8090"],
        description="Compute replicas, comma-separated; a retry moves on to another replica.",
    )
    compute_token: SecretStr | None = Field(
        None,
        description="Sent to compute as `Authorization: Bearer`; compute's `COMPUTE_SERVICE_TOKEN`.",
    )
    compute_connect_timeout_s: float = Field(
        5.0, gt=0, le=120, description="Timeout to connect to a compute replica."
    )
    # Read timeouts per endpoint: a parse of a large document runs for minutes, an embed batch for seconds.
    compute_parse_timeout_s: float = Field(
        600.0, gt=0, le=3600, description="Read timeout of one `/parse` request."
    )
    compute_chunk_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="Read timeout of one `/chunk` request."
    )
    compute_embed_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="Read timeout of one `/embed` request."
    )
    compute_metadata_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="Read timeout of one `/extract-metadata` request."
    )
    compute_max_attempts: int = Field(
        4,
        ge=1,
        le=20,
        description="Tries per compute call, across replicas, on connect errors, timeouts and 429, 502, 503 "
        "or 504 (a 503 `worker_lost` fails the attempt at once, for the job's later retry).",
    )
    compute_backoff_base_s: float = Field(
        0.5, gt=0, le=60, description="First backoff between tries of a compute call."
    )
    compute_backoff_max_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Longest backoff between tries of a compute call; also caps a replica's `Retry-After`.",
    )
    embed_batch_texts: int = Field(
        128, ge=1, le=4096, description="Texts per `/embed` request during ingestion."
    )
    parse_window_pages: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Pages of a PDF per `/parse` request (at most compute's `COMPUTE_MAX_WINDOW_PAGES`). A "
        "parse worker's memory is bounded by the window, the job's progress advances window by window, "
        "and each finished window is kept until the job ends, so a retry resumes after it.",
    )
    parse_s_per_page: float = Field(
        1.0,
        gt=0,
        le=600,
        description="An attempt's whole parse of a document may take this long per page, never less than "
        "`ORCH_COMPUTE_PARSE_TIMEOUT_S`; past it the attempt fails with `timeout`.",
    )

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
