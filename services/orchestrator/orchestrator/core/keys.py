"""Every Redis key the orchestrator uses, built in this one module under a versioned prefix.

Bump the version when a record's layout changes incompatibly, so old and new code never share keys.
Keys that include an id are templates, so the Lua scripts build exactly the same names (`lua_builders`).
"""

PREFIX = "ds:v1:"

# The consumer group every worker joins on each priority stream (a group name, not a key).
GROUP = "workers"

DELAYED = f"{PREFIX}queue:delayed"  # zset: retrying job id -> due time (ms)
DEAD = f"{PREFIX}queue:dead"  # stream: the dead letters, with their reasons
WAKE = f"{PREFIX}queue:wake"  # stream: a tick on every new entry, so idle workers block instead of polling
JOBS = f"{PREFIX}jobs"  # zset (lex): every job id
WORKERS = f"{PREFIX}workers"  # zset: worker id -> last heartbeat (ms)
COLLECTIONS = f"{PREFIX}collections"  # zset (lex): collection names
DOCUMENTS = f"{PREFIX}docs"  # zset (lex): every document id
# stream: every change of what search may return (catalog.changes), followed by each API's lexical index
SEARCH_CHANGES = f"{PREFIX}search:changes"
# hash: collection name -> version, bumped with each of its changes and never deleted (the query cache's key)
SEARCH_VERSIONS = f"{PREFIX}search:versions"
SEARCH_CACHE_INDEX = f"{PREFIX}search:cache"  # zset: cache entry key -> time stored (ms), to bound its size
RECONCILE_LAST = f"{PREFIX}reconcile:last"  # string: the latest reconcile report (JSON), for operators
# string: held while a reconcile round runs anywhere; its value is "<start ms>:<random>" (the holder's token)
RECONCILE_LOCK = f"{PREFIX}reconcile:lock"
RATE_LIMITS = f"{PREFIX}ratelimit"  # the prefix of the rate limiter's keys (one list per client and kind)

_STREAM = PREFIX + "queue:{}"
_AUTOCLAIM_CURSOR = PREFIX + "queue:{}:autoclaim"
_JOB = PREFIX + "job:{}"
_JOB_EVENTS = PREFIX + "job:{}:events"
_JOBS_BY_STATUS = PREFIX + "jobs:status:{}"
_JOBS_BY_COLLECTION = PREFIX + "jobs:collection:{}"
_WORKER = PREFIX + "worker:{}"
_COLLECTION = PREFIX + "collection:{}"
_DOCUMENT = PREFIX + "doc:{}"
_DOCS_BY_COLLECTION = PREFIX + "docs:collection:{}"
_DOCS_BY_STATUS = PREFIX + "docs:status:{}"
_DOCS_BY_SHA256 = PREFIX + "docs:sha256:{}"  # hash per collection: sha256 -> document id
# hash {job, fingerprint}: the job a scoped idempotency key made, and the request it stood for.
_IDEMPOTENCY = PREFIX + "idem:{}"
_IDEMPOTENCY_LOCK = PREFIX + "idem-lock:{}"
_JOB_SECRET = PREFIX + "secret:{}"  # string by job id: a job's document password, deleted when the job ends
_METADATA_LOCK = PREFIX + "metadata-lock:{}"  # by document id


def stream(priority: str) -> str:
    return _STREAM.format(priority)


def autoclaim_cursor(priority: str) -> str:
    return _AUTOCLAIM_CURSOR.format(priority)


def job(job_id: str) -> str:
    return _JOB.format(job_id)


def job_events(job_id: str) -> str:
    return _JOB_EVENTS.format(job_id)


def jobs_by_status(status: str) -> str:
    return _JOBS_BY_STATUS.format(status)


def jobs_by_collection(collection: str) -> str:
    return _JOBS_BY_COLLECTION.format(collection)


def idempotency(key: str) -> str:
    return _IDEMPOTENCY.format(key)


def job_secret(job_id: str) -> str:
    return _JOB_SECRET.format(job_id)


def worker(worker_id: str) -> str:
    return _WORKER.format(worker_id)


def collection(name: str) -> str:
    return _COLLECTION.format(name)


def document(document_id: str) -> str:
    return _DOCUMENT.format(document_id)


def documents_by_collection(collection_name: str) -> str:
    return _DOCS_BY_COLLECTION.format(collection_name)


def documents_by_status(status: str) -> str:
    return _DOCS_BY_STATUS.format(status)


def documents_by_sha256(collection_name: str) -> str:
    return _DOCS_BY_SHA256.format(collection_name)


def idempotency_lock(key: str) -> str:
    """Held while a request with this idempotency key runs, so concurrent repeats wait for its job."""
    return _IDEMPOTENCY_LOCK.format(key)


def metadata_lock(document_id: str) -> str:
    """Held while a document's user metadata is written onto its vectors, so those writes never interleave."""
    return _METADATA_LOCK.format(document_id)


def search_cache_entry(digest: str) -> str:
    """One cached search answer, named by the digest of everything the answer depends on."""
    return f"{PREFIX}search:cache:{digest}"


def _lua_function(name: str, template: str) -> str:
    head, tail = template.split("{}")
    body = f"'{head}' .. x" + (f" .. '{tail}'" if tail else "")
    return f"local function {name}(x) return {body} end"


def lua_builders() -> str:
    """Lua functions that build the per-id keys the scripts touch, from the same templates as above."""
    templates = {
        "job_key": _JOB,
        "events_key": _JOB_EVENTS,
        "status_index": _JOBS_BY_STATUS,
        "collection_index": _JOBS_BY_COLLECTION,
        "idempotency_key": _IDEMPOTENCY,
        "secret_key": _JOB_SECRET,
    }
    return "\n".join(_lua_function(name, t) for name, t in templates.items())
