"""POST /chunk: text or a ParseResult to chunks sized for the embedding model."""

import asyncio
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import Response

from compute.chunking.service import chunk as run_chunk
from compute.chunking.tokens import TokenCounter
from compute.deps import State
from compute.settings import Settings
from compute.state import AppState
from contracts import ChunkRequest, ChunkResponse, ErrorEnvelope

router = APIRouter()
ERRORS = {s: {"model": ErrorEnvelope} for s in (413, 422, 503)}


@dataclass(frozen=True)
class Chunker:
    """What chunking needs of the service's state, taken on the event loop for use in a worker thread."""

    counter: TokenCounter
    model_max_tokens: int
    settings: Settings

    @classmethod
    def of(cls, state: AppState) -> "Chunker":
        # Two special tokens ([CLS], [SEP]) wrap every text the model reads.
        return cls(state.token_counter(), state.model(None).max_seq_length - 2, state.settings)

    def run(self, body: ChunkRequest) -> ChunkResponse:
        limits = self.settings
        return run_chunk(
            body, self.counter, self.model_max_tokens, limits.chunk_max_text_chars, limits.chunk_max_chunks
        )


def chunks_json(result: ChunkResponse) -> bytes:
    """One chunk at a time: a single dump of tens of thousands of chunks is one C call that holds the GIL
    (and so the event loop) for half a second; many short ones let the loop run in between."""
    head = result.model_dump_json(exclude={"chunks"}).encode()
    chunks = b",".join(c.model_dump_json().encode() for c in result.chunks)
    return head[:-1] + b',"chunks":[' + chunks + b"]}"


@router.post("/chunk", response_model=ChunkResponse, responses=ERRORS)
async def chunk(body: ChunkRequest, state: State) -> Response:
    chunker = Chunker.of(state)
    # Tokenising, splitting and writing thousands of chunks are CPU work: a worker thread does all of
    # it, so /livez and other requests stay responsive.
    payload = await asyncio.to_thread(lambda: chunks_json(chunker.run(body)))
    return Response(payload, media_type="application/json")
