"""What the lifespan builds and the routes use: settings, models, the parse pool, queues, clients."""

from dataclasses import dataclass, field

import httpx

from compute.chunking import Chunker, TokenCounter
from compute.embedding import EmbeddingModel, EmbedQueue
from compute.errors import ComputeError
from compute.metrics import Metrics
from compute.parsing import ParsePool
from compute.settings import Settings
from contracts import ErrorCode


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    models: dict[str, EmbeddingModel] = field(default_factory=dict)
    parse_pool: ParsePool | None = None
    embed_queue: EmbedQueue | None = None
    http: httpx.AsyncClient | None = None  # for the LLM endpoint
    chunk_tokens: TokenCounter | None = None  # its own tokenizer copies, never the embedding thread's
    ready: bool = False

    def model(self, name: str | None) -> EmbeddingModel:
        key = name or self.settings.default_model
        model = self.models.get(key)
        if model is None:
            known = ", ".join(sorted(self.models)) or "none loaded"
            raise ComputeError(ErrorCode.unknown_model, f"unknown model {key!r}; known: {known}")
        return model

    def token_counter(self) -> TokenCounter:
        if self.chunk_tokens is None:
            model = self.model(None)
            self.chunk_tokens = TokenCounter(model.tokenizer, model.name)
        return self.chunk_tokens

    def chunker(self) -> Chunker:
        """What chunking needs of this state, taken on the event loop for use in a worker thread."""
        counter = self.token_counter()
        # Two special tokens ([CLS], [SEP]) wrap every text the model reads.
        model_max_tokens = self.model(None).max_seq_length - 2
        limits = self.settings
        return Chunker(counter, model_max_tokens, limits.chunk_max_text_chars, limits.chunk_max_chunks)
