"""POST /chunk: text or a ParseResult to chunks sized for the embedding model."""

import asyncio

from fastapi import APIRouter

from compute.chunking.service import chunk as run_chunk
from compute.deps import State
from contracts import ChunkRequest, ChunkResponse, ErrorEnvelope

router = APIRouter()


@router.post(
    "/chunk",
    response_model=ChunkResponse,
    responses={422: {"model": ErrorEnvelope}, 413: {"model": ErrorEnvelope}},
)
async def chunk(body: ChunkRequest, state: State) -> ChunkResponse:
    model = state.model(None)
    # Two special tokens ([CLS], [SEP]) wrap every text the model reads.
    model_max_tokens = model.max_seq_length - 2
    # CPU-bound tokenising: off the event loop so /livez and other requests stay responsive.
    return await asyncio.to_thread(
        run_chunk, body, state.token_counter(), model_max_tokens, state.settings.chunk_max_text_chars
    )
