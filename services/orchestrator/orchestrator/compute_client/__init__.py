"""The HTTP client of the compute service: replicas, per-endpoint timeouts, classified retries."""

from orchestrator.compute_client.client import ComputeClient
from orchestrator.compute_client.multipart import StreamedFile
from orchestrator.compute_client.retry import CallStats, parse_retry_after

__all__ = ["CallStats", "ComputeClient", "StreamedFile", "parse_retry_after"]
