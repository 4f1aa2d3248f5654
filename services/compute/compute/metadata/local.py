"""Local, deterministic metadata: same input, same output, no network.

Keywords and the summary are ranked with the embedding model (the phrase or sentence closest to the
document's own embedding wins, with a diversity penalty so the top keywords are not near-copies).
Everything that reads the text runs in a worker thread (`asyncio.to_thread`), never on the event loop,
and reads at most the prefixes the settings allow.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np
import py3langid

import compute.metadata.patterns as patterns
from contracts import MetadataMode, MetadataResponse, ParseResult

EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]  # returns unit vectors
LANGUAGE_SAMPLE_CHARS = 20_000
TITLE_SCAN_LINES = 2_000


@dataclass(frozen=True)
class TextLimits:
    scan_chars: int  # the patterns read this prefix
    rank_chars: int  # keyword and summary ranking read this prefix


def title_of(text: str, document: ParseResult | None) -> str | None:
    if document is not None:
        for section in document.sections:
            if section.heading_path:
                return section.heading_path[0]
        for line in document.markdown[: 200 * TITLE_SCAN_LINES].splitlines()[:TITLE_SCAN_LINES]:
            if line.startswith("#"):
                return line.lstrip("#").strip() or None
    for line in text[: 200 * TITLE_SCAN_LINES].splitlines()[:TITLE_SCAN_LINES]:
        line = line.strip().lstrip("#").strip()
        if 3 <= len(line) <= 200:
            return line
    return None


def warm_up() -> None:
    """py3langid decompresses its model on the first call (0.5 s, much of it holding the GIL, so the
    event loop stalled behind a first /extract-metadata): done at start instead."""
    py3langid.classify("a few words to load the language model")


def language_of(text: str) -> str | None:
    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if len(patterns.findall(patterns.WORD, sample)) < 3:
        return None
    lang, _score = py3langid.classify(sample)
    return lang


def facts(text: str, document: ParseResult | None, limits: TextLimits) -> MetadataResponse:
    """What the text states (title, language, counts, dates, emails, URLs, names); CPU only."""
    scanned = text[: limits.scan_chars]
    names = patterns.findall(patterns.PROPER, scanned)
    return MetadataResponse(
        mode=MetadataMode.local,
        title=title_of(text, document),
        language=language_of(text),
        word_count=patterns.count_words(text),
        page_count=document.pages if document is not None else 0,
        dates=patterns.unique(patterns.findall(patterns.DATE, scanned)),
        emails=patterns.unique(patterns.findall(patterns.EMAIL, scanned)),
        urls=patterns.unique(patterns.findall(patterns.URL, scanned)),
        entities={"proper_nouns": patterns.unique([patterns.strip_article(n) for n in names], limit=30)},
    )


def _mmr(doc_vec: np.ndarray, vecs: np.ndarray, k: int, diversity: float = 0.5) -> list[int]:
    """Maximal marginal relevance: relevant to the document, not redundant with what is chosen."""
    relevance = vecs @ doc_vec
    chosen: list[int] = []
    candidates = list(range(len(vecs)))
    while candidates and len(chosen) < k:
        if chosen:
            redundancy = np.max(vecs[candidates] @ vecs[chosen].T, axis=1)
            scores = (1 - diversity) * relevance[candidates] - diversity * redundancy
        else:
            scores = relevance[candidates]
        best = candidates[int(np.argmax(scores))]
        chosen.append(best)
        candidates.remove(best)
    return chosen


def _prepare(
    text: str, document: ParseResult | None, limits: TextLimits
) -> tuple[MetadataResponse, list[str], list[str]]:
    body = text[: limits.rank_chars]
    return facts(text, document, limits), patterns.candidate_phrases(body), patterns.sentences(body)


async def extract(
    text: str,
    document: ParseResult | None,
    embed: EmbedFn,
    max_keywords: int,
    summary_sentences: int,
    limits: TextLimits,
) -> MetadataResponse:
    response, phrases, sents = await asyncio.to_thread(_prepare, text, document, limits)
    if not phrases and not sents:
        return response
    # One embedding call for the document, its candidate phrases and its sentences.
    doc_text = " ".join(sents[:40]) or text[:4000]
    vectors = await embed([doc_text, *phrases, *sents])
    doc_vec = vectors[0]
    phrase_vecs = vectors[1 : 1 + len(phrases)]
    sent_vecs = vectors[1 + len(phrases) :]
    if phrases:
        response.keywords = [phrases[i] for i in _mmr(doc_vec, phrase_vecs, max_keywords)]
    if sents:
        top = np.argsort(-(sent_vecs @ doc_vec), kind="stable")[:summary_sentences]
        response.summary = " ".join(sents[i] for i in sorted(top.tolist()))
    return response
