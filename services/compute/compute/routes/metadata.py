"""POST /extract-metadata: local and deterministic, or an LLM with a local fallback."""

from fastapi import APIRouter

from compute.deps import State
from compute.embedding.queue import normalize_rows
from compute.metadata import llm, local
from compute.routes.embed import embed_texts
from contracts import EmbedKind, ErrorEnvelope, MetadataMode, MetadataRequest, MetadataResponse

router = APIRouter()


@router.post("/extract-metadata", response_model=MetadataResponse, responses={422: {"model": ErrorEnvelope}})
async def extract_metadata(body: MetadataRequest, state: State) -> MetadataResponse:
    text = body.text if body.text is not None else body.document.text  # type: ignore[union-attr]

    async def embed(texts: list[str]):
        _, encoded = await embed_texts(state, texts, None, EmbedKind.passage.value)
        return normalize_rows(encoded.vectors)

    want_llm = body.mode == MetadataMode.llm or (body.mode == MetadataMode.auto and state.settings.llm_url)
    fallback_reason = None
    if want_llm:
        if not state.settings.llm_url or state.http is None:
            fallback_reason = "no LLM endpoint is configured (COMPUTE_LLM_URL)"
        else:
            try:
                result = await llm.extract(
                    state.http, state.settings, text, body.max_keywords, body.summary_sentences
                )
            except llm.LLMUnavailable as exc:
                fallback_reason = str(exc)
            else:
                # Counts and patterns are facts of the text: always computed locally.
                facts = await local.extract(text, body.document, embed, 1, 1)
                result.word_count, result.page_count = facts.word_count, facts.page_count
                result.dates, result.emails, result.urls = facts.dates, facts.emails, facts.urls
                result.language = result.language or facts.language
                result.title = result.title or facts.title
                return result
    result = await local.extract(text, body.document, embed, body.max_keywords, body.summary_sentences)
    result.fallback_reason = fallback_reason
    return result
