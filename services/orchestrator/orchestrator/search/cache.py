"""The query cache: whole search answers in Redis, keyed by everything an answer depends on, including
each searched collection's version (catalog.changes), which every change of the collection bumps in its
own transaction: an answer cached before a change is never served after it, and simply ages out.

Bounds: entries expire after ttl_s, at most max_entries are kept (the oldest go first) and none larger
than max_entry_bytes (64 MiB in all by default). Storing is best effort: a Redis that refuses the write
costs the answer its entry, not the request. A hit costs two round trips (the versions, then the entry).
"""

import hashlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import TypeAdapter, ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from orchestrator.core import keys
from orchestrator.search.hits import SearchHit

_HITS = TypeAdapter(list[SearchHit])
# Part of every key: bump it when SearchHit changes, so that processes of two versions (a rolling deploy)
# never read each other's entries.
CACHE_FORMAT = 1

log = logging.getLogger(__name__)

# Stores the entry and trims the index of entries: those expired, then the oldest past the cap.
_PUT = """
local now_ms, ttl_ms, cap = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl_ms)
redis.call('ZADD', KEYS[2], now_ms, KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms - ttl_ms)
local excess = redis.call('ZCARD', KEYS[2]) - cap
if excess > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #oldest, 2 do redis.call('DEL', oldest[i]) end
end
return excess
"""


@dataclass
class CacheCounters:
    hits: int = 0
    misses: int = 0
    bypassed: int = 0  # requests with Cache-Control: no-cache
    stored: int = 0
    not_stored: int = 0  # answers not kept: too big, or computed while the lexical index lagged


class QueryCache:
    def __init__(self, redis: Redis, *, ttl_s: int, max_entries: int, max_entry_bytes: int):
        self._redis = redis
        self._put = redis.register_script(_PUT)
        self.ttl_s, self.max_entries, self.max_entry_bytes = ttl_s, max_entries, max_entry_bytes
        self.counters = CacheCounters()

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    @staticmethod
    def key(request: dict[str, Any], collections: Sequence[str], versions: dict[str, int]) -> str:
        """The entry's key: a digest of the request's canonical JSON and the collections' versions."""
        material = {
            "format": CACHE_FORMAT,
            "request": request,
            "versions": [[c, versions[c]] for c in collections],
        }
        canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return keys.search_cache_entry(hashlib.sha256(canonical.encode()).hexdigest())

    async def get(self, key: str) -> list[SearchHit] | None:
        raw = await self._redis.get(key)
        if raw is None:
            self.counters.misses += 1
            return None
        try:
            hits = _HITS.validate_json(raw)
        except ValidationError:  # not this version's format: a miss, never an error
            self.counters.misses += 1
            return None
        self.counters.hits += 1
        return hits

    async def put(self, key: str, results: list[SearchHit]) -> None:
        raw = _HITS.dump_json(results)
        if len(raw) > self.max_entry_bytes:
            self.counters.not_stored += 1
            return
        now_ms = int(time.time() * 1000)
        try:
            await self._put(
                keys=[key, keys.SEARCH_CACHE_INDEX], args=[raw, now_ms, self.ttl_s * 1000, self.max_entries]
            )
        except RedisError as exc:  # Redis full (noeviction) or away: the answer is served, just not kept
            log.warning("search cache: an answer was not stored (%s: %s)", type(exc).__name__, exc)
            self.counters.not_stored += 1
            return
        self.counters.stored += 1


class CacheCollector(Collector):
    def __init__(self, cache: QueryCache):
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        c = self._cache.counters
        for name, value, doc in (
            ("hits", c.hits, "Searches answered from the query cache"),
            ("misses", c.misses, "Searches the query cache could not answer"),
            ("bypassed", c.bypassed, "Searches sent with Cache-Control: no-cache"),
            ("stored", c.stored, "Answers stored in the query cache"),
            ("not_stored", c.not_stored, "Answers not stored: too big, or the lexical index lagged"),
        ):
            yield CounterMetricFamily(f"orchestrator_search_cache_{name}", doc, value=value)
        looked = c.hits + c.misses
        yield GaugeMetricFamily(
            "orchestrator_search_cache_hit_ratio",
            "Hits over lookups since this process started",
            value=c.hits / looked if looked else 0.0,
        )
