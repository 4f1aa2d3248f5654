"""POST /extract-metadata: local and deterministic, or an LLM with a local fallback."""

import asyncio

from fastapi import APIRouter

from compute.deps import State
from compute.embedding import embed_texts, normalize_rows
from compute.errors import ComputeError
from compute.metadata import llm, local
from contracts import EmbedKind, ErrorCode, ErrorEnvelope, MetadataMode, MetadataRequest, MetadataResponse

router = APIRouter()
ERRORS = {s: {"model": ErrorEnvelope} for s in (413, 422, 503)}


@router.post("/extract-metadata", response_model=MetadataResponse, responses=ERRORS)
async def extract_metadata(body: MetadataRequest, state: State) -> MetadataResponse:
    settings = state.settings
    text = body.text if body.text is not None else body.document.text  # type: ignore[union-attr]
    if len(text) > settings.metadata_max_text_chars:
        raise ComputeError(
            ErrorCode.too_large,
            f"text of {len(text)} characters; the limit is {settings.metadata_max_text_chars}",
        )
    limits = local.TextLimits(settings.metadata_scan_chars, settings.metadata_rank_chars)

    async def embed(texts: list[str]):
        _, encoded = await embed_texts(state, texts, None, EmbedKind.passage.value)
        return normalize_rows(encoded.vectors)

    want_llm = body.mode == MetadataMode.llm or (body.mode == MetadataMode.auto and settings.llm_url)
    fallback_reason = None
    if want_llm:
        if not settings.llm_url or state.http is None:
            fallback_reason = "no LLM endpoint is configured (COMPUTE_LLM_URL)"
        else:
            try:
                result = await llm.extract(
                    state.http, settings, text, body.max_keywords, body.summary_sentences
                )
            except llm.LLMUnavailable as exc:
                fallback_reason = str(exc)
            else:
                # Counts and patterns are facts of the text: always computed locally (off the loop).
                facts = await asyncio.to_thread(local.facts, text, body.document, limits)
                result.word_count, result.page_count = facts.word_count, facts.page_count
                result.dates, result.emails, result.urls = facts.dates, facts.emails, facts.urls
                result.language = result.language or facts.language
                result.title = result.title or facts.title
                return result
    result = await local.extract(
        text, body.document, embed, body.max_keywords, body.summary_sentences, limits
    )
    result.fallback_reason = fallback_reason
    return result
