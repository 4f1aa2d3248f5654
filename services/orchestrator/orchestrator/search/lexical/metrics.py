"""Prometheus metrics of this process's lexical index, read at scrape time (index stats cached)."""

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator.search.lexical.follower import LexicalFollower
from orchestrator.search.lexical.index import IndexStats

log = logging.getLogger("orchestrator.search.lexical")


class LexicalCollector(Collector):
    """Prometheus metrics of this process's lexical index, read at scrape time (index stats cached)."""

    def __init__(self, follower: LexicalFollower):
        self._follower = follower

    def collect(self) -> Iterator[Metric]:
        follower = self._follower
        try:
            stats: IndexStats | None = follower.stats()
        except Exception:  # a scrape never fails for it: the other metrics still count
            log.debug("lexical index stats failed", exc_info=True)
            stats = None
        if stats is not None:
            yield GaugeMetricFamily(
                "orchestrator_lexical_chunks", "Chunks in the lexical index", value=stats.chunks
            )
            yield GaugeMetricFamily(
                "orchestrator_lexical_index_bytes",
                "Size of the lexical index on disk",
                value=stats.bytes_on_disk,
            )
        yield GaugeMetricFamily(
            "orchestrator_lexical_caught_up",
            "1 when the lexical index has caught up with the registry's changes",
            value=1 if follower.caught_up else 0,
        )
        counters = follower.counters
        yield CounterMetricFamily(
            "orchestrator_lexical_changes_applied",
            "Registry changes applied to the lexical index",
            value=counters.changes_applied,
        )
        yield CounterMetricFamily(
            "orchestrator_lexical_rebuilds",
            "Rebuilds of the lexical index from the source",
            value=counters.rebuilds,
        )
        yield CounterMetricFamily(
            "orchestrator_lexical_searches_waited",
            "Searches that waited for the lexical index to apply a change made before they began",
            value=counters.searches_waited,
        )
        yield CounterMetricFamily(
            "orchestrator_lexical_waits_timed_out",
            "Searches that went on without a change the lexical index had not applied in time",
            value=counters.waits_timed_out,
        )
        yield GaugeMetricFamily(
            "orchestrator_lexical_last_rebuild_seconds",
            "How long the latest rebuild of the lexical index took",
            value=counters.last_rebuild_s,
        )
