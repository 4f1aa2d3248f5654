"""Chunking bound to the embedding model's tokenizer and the service's limits, and its answer written
as JSON chunk by chunk (used by /chunk, and by /parse when it is asked to chunk)."""

from dataclasses import dataclass

from compute.chunking.service import chunk
from compute.chunking.tokens import TokenCounter
from contracts import ChunkRequest, ChunkResponse


@dataclass(frozen=True)
class Chunker:
    """What chunking needs of the service's state (AppState.chunker builds it on the event loop), so
    that a worker thread can run it."""

    counter: TokenCounter
    model_max_tokens: int
    max_text_chars: int
    max_chunks: int

    def run(self, body: ChunkRequest) -> ChunkResponse:
        return chunk(body, self.counter, self.model_max_tokens, self.max_text_chars, self.max_chunks)


def chunks_json(result: ChunkResponse) -> bytes:
    """One chunk at a time: a single dump of tens of thousands of chunks is one C call that holds the GIL
    (and so the event loop) for half a second; many short ones let the loop run in between."""
    head = result.model_dump_json(exclude={"chunks"}).encode()
    chunks = b",".join(c.model_dump_json().encode() for c in result.chunks)
    return head[:-1] + b',"chunks":[' + chunks + b"]}"
