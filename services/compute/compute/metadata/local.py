"""Local, deterministic metadata: same input, same output, no network.

Keywords and the summary are ranked with the embedding model (the phrase or sentence closest to the
document's own embedding wins, with a diversity penalty so the top keywords are not near-copies).
"""

from collections.abc import Awaitable, Callable

import numpy as np
import py3langid

from compute.metadata import patterns
from contracts import MetadataMode, MetadataResponse, ParseResult

EmbedFn = Callable[[list[str]], Awaitable[np.ndarray]]  # returns unit vectors
MAX_CHARS_FOR_MODEL = 200_000  # keyword/summary ranking reads at most this much text


def title_of(text: str, document: ParseResult | None) -> str | None:
    if document is not None:
        for section in document.sections:
            if section.heading_path:
                return section.heading_path[0]
        for line in document.markdown.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip() or None
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if 3 <= len(line) <= 200:
            return line
    return None


def language_of(text: str) -> str | None:
    sample = text[:20_000]
    if len(patterns.WORD.findall(sample)) < 3:
        return None
    lang, _score = py3langid.classify(sample)
    return lang


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


async def extract(
    text: str, document: ParseResult | None, embed: EmbedFn, max_keywords: int, summary_sentences: int
) -> MetadataResponse:
    words = patterns.WORD.findall(text)
    response = MetadataResponse(
        mode=MetadataMode.local,
        title=title_of(text, document),
        language=language_of(text),
        word_count=len(words),
        page_count=document.pages if document is not None else 0,
        dates=patterns.unique(patterns.DATE.findall(text)),
        emails=patterns.unique(patterns.EMAIL.findall(text)),
        urls=patterns.unique(patterns.URL.findall(text)),
        entities={
            "proper_nouns": patterns.unique(
                [patterns.strip_article(n) for n in patterns.PROPER.findall(text)], limit=30
            )
        },
    )
    body = text[:MAX_CHARS_FOR_MODEL]
    phrases = patterns.candidate_phrases(body)
    sents = patterns.sentences(body)
    if not phrases and not sents:
        return response
    # One embedding call for the document, its candidate phrases and its sentences.
    doc_text = " ".join(sents[:40]) or body[:4000]
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
