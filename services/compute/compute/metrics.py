"""Prometheus metrics of the compute service (one registry per app, so tests can build many apps)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "compute_requests_total", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "compute_request_seconds",
            "HTTP request latency",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.embedded_texts = Counter(
            "compute_embedded_texts_total", "Texts embedded", ["model"], registry=self.registry
        )
        self.parse_errors = Counter(
            "compute_parse_errors_total", "Parse failures", ["code"], registry=self.registry
        )
        self.parse_peak_rss = Gauge(
            "compute_parse_worker_peak_rss_bytes",
            "Largest per-document peak RSS of a parse worker",
            registry=self.registry,
        )
        # Texts per call of the model (one group of coalesced requests): small passes cost more per text.
        self.embed_pass_texts = Histogram(
            "compute_embed_pass_texts",
            "Texts the model encoded together, per group of coalesced /embed requests",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        )
        self.embed_pending = Gauge(
            "compute_embed_pending_texts", "Texts waiting to be embedded", registry=self.registry
        )
