"""Sentence embeddings: model loading with the fastest backend this CPU runs correctly, a coalescing
queue, and the one entry point the routes call. The int8 export is imported only when int8 is tried."""

from compute.embedding.cpu import cpu_model_name, has_fast_bf16, has_vnni
from compute.embedding.embed_queue import EmbedQueue
from compute.embedding.model import BackendRefused, EmbeddingModel, Encoded
from compute.embedding.paths import default_model_path
from compute.embedding.service import embed_texts, normalize_rows

__all__ = [
    "BackendRefused",
    "EmbedQueue",
    "EmbeddingModel",
    "Encoded",
    "cpu_model_name",
    "default_model_path",
    "embed_texts",
    "has_fast_bf16",
    "has_vnni",
    "normalize_rows",
]
