"""POST /chunk: text or a ParseResult to chunks sized for the embedding model."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from compute.chunking.service import chunk as run_chunk
from compute.chunking.tokens import TokenCounter
from compute.deps import State
from compute.settings import Settings
from contracts import ChunkRequest, ChunkResponse, ErrorEnvelope

router = APIRouter()
ERRORS = {s: {"model": ErrorEnvelope} for s in (413, 422, 503)}


def _chunk_json(
    body: ChunkRequest, counter: TokenCounter, model_max_tokens: int, settings: Settings
) -> bytes:
    result = run_chunk(
        body, counter, model_max_tokens, settings.chunk_max_text_chars, settings.chunk_max_chunks
    )
    # One chunk at a time: a single dump of tens of thousands of chunks is one C call that holds the GIL
    # (and so the event loop) for half a second; many short ones let the loop run in between.
    head = result.model_dump_json(exclude={"chunks"}).encode()
    chunks = b",".join(c.model_dump_json().encode() for c in result.chunks)
    return head[:-1] + b',"chunks":[' + chunks + b"]}"


@router.post("/chunk", response_model=ChunkResponse, responses=ERRORS)
async def chunk(body: ChunkRequest, state: State) -> Response:
    model = state.model(None)
    # Two special tokens ([CLS], [SEP]) wrap every text the model reads.
    model_max_tokens = model.max_seq_length - 2
    # Tokenising, splitting and writing thousands of chunks are CPU work: a worker thread does all of
    # it, so /livez and other requests stay responsive.
    payload = await asyncio.to_thread(
        _chunk_json, body, state.token_counter(), model_max_tokens, state.settings
    )
    return Response(payload, media_type="application/json")
