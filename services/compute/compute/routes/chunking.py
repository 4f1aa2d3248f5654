"""POST /chunk: text or a ParseResult to chunks sized for the embedding model."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response

from compute.chunking import chunks_json
from compute.deps import State
from contracts import ChunkRequest, ChunkResponse, ErrorEnvelope

router = APIRouter()
ERRORS = {s: {"model": ErrorEnvelope} for s in (413, 422, 503)}


@router.post("/chunk", response_model=ChunkResponse, responses=ERRORS)
async def chunk(body: ChunkRequest, state: State) -> Response:
    chunker = state.chunker()
    # Tokenising, splitting and writing thousands of chunks are CPU work: a worker thread does all of
    # it, so /livez and other requests stay responsive.
    payload = await asyncio.to_thread(lambda: chunks_json(chunker.run(body)))
    return Response(payload, media_type="application/json")
