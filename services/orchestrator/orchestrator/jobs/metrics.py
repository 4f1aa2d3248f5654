"""Prometheus metrics of a worker pool, read from its counters at scrape time."""

from collections.abc import Iterator
from dataclasses import asdict

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator.jobs.worker import WorkerPool


class PoolCollector(Collector):
    def __init__(self, pool: WorkerPool):
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        attempts = CounterMetricFamily(
            "orchestrator_job_attempts",
            "Job attempts this worker ended, by outcome",
            labels=["worker", "outcome"],
        )
        for outcome, value in asdict(self._pool.counters).items():
            if outcome != "processed":  # the sum of the recorded outcomes; Prometheus can add
                attempts.add_metric([self._pool.worker_id, outcome], value)
        yield attempts
        in_flight = GaugeMetricFamily(
            "orchestrator_jobs_in_flight", "Jobs running on this worker", labels=["worker"]
        )
        in_flight.add_metric([self._pool.worker_id], len(self._pool.in_flight))
        yield in_flight
