"""POST /embed and the OpenAI-compatible POST /v1/embeddings."""

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response

from compute.deps import State
from compute.embedding.model import Encoded
from compute.embedding.queue import normalize_rows
from compute.errors import ComputeError
from compute.state import AppState
from contracts import (
    EmbedKind,
    EmbedRequest,
    EmbedResponse,
    ErrorCode,
    ErrorEnvelope,
    OpenAIEmbeddingData,
    OpenAIEmbeddingRequest,
    OpenAIEmbeddingResponse,
)
from contracts.compute import OpenAIUsage

router = APIRouter()
ERRORS = {s: {"model": ErrorEnvelope} for s in (404, 413, 422, 503)}


async def embed_texts(
    state: AppState, texts: list[str], model_name: str | None, kind: str
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


def _json(payload: bytes) -> Response:
    return Response(content=payload, media_type="application/json")


@router.post("/embed", response_model=EmbedResponse, responses=ERRORS)
async def embed(body: EmbedRequest, state: State) -> Response:
    name, encoded = await embed_texts(state, body.texts, body.model, body.kind.value)
    vectors = normalize_rows(encoded.vectors) if body.normalize else encoded.vectors
    # orjson writes float32 matrices directly: several times faster than pydantic for 1000x384 floats.
    import orjson

    payload = orjson.dumps(
        {"model": name, "dim": int(vectors.shape[1]), "embeddings": vectors, "truncated": encoded.truncated},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )
    return _json(payload)


@router.post("/v1/embeddings", response_model=OpenAIEmbeddingResponse, responses=ERRORS)
async def openai_embeddings(body: OpenAIEmbeddingRequest, state: State) -> OpenAIEmbeddingResponse:
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts:
        raise ComputeError(ErrorCode.invalid_request, "`input` is empty")
    name, encoded = await embed_texts(state, texts, body.model, EmbedKind.passage.value)
    vectors = normalize_rows(encoded.vectors).astype(np.float32)
    tokens = sum(encoded.token_counts)
    return OpenAIEmbeddingResponse(
        data=[OpenAIEmbeddingData(index=i, embedding=v.tolist()) for i, v in enumerate(vectors)],
        model=name,
        usage=OpenAIUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
