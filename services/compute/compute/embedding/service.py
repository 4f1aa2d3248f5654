"""The one way in for texts to embed (/embed, /v1/embeddings, metadata ranking): the request's limits,
the model by name, the queue, and the count of texts embedded."""

from typing import Protocol

import numpy as np

from compute.embedding.embed_queue import EmbedQueue
from compute.embedding.model import EmbeddingModel, Encoded
from compute.errors import ComputeError
from compute.metrics import Metrics
from compute.settings import Settings
from contracts import ErrorCode


class EmbedState(Protocol):
    """What embedding needs of the service's state (compute.state.AppState)."""

    settings: Settings
    metrics: Metrics
    embed_queue: EmbedQueue | None

    def model(self, name: str | None) -> EmbeddingModel: ...


async def embed_texts(
    state: EmbedState, texts: list[str], model_name: str | None, kind: str
) -> tuple[str, Encoded]:
    settings = state.settings
    if len(texts) > settings.embed_max_texts_per_request:
        raise ComputeError(
            ErrorCode.too_large,
            f"{len(texts)} texts in one request; the limit is {settings.embed_max_texts_per_request}",
        )
    longest = max((len(t) for t in texts), default=0)
    if longest > settings.embed_max_chars_per_text:
        raise ComputeError(
            ErrorCode.too_large,
            f"a text of {longest} characters; the limit is {settings.embed_max_chars_per_text}",
        )
    model = state.model(model_name)
    assert state.embed_queue is not None
    encoded = await state.embed_queue.embed(model, texts, kind)
    state.metrics.embedded_texts.labels(model.name).inc(len(texts))
    return model.name, encoded


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
