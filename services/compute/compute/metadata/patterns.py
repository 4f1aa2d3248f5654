"""Regular-expression facts found in text: dates, emails, URLs, candidate phrases, sentences."""

import re

EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
URL = re.compile(r"\bhttps?://[^\s<>()\"']+[^\s<>()\"'.,;:!?]")
_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[./]\d{{1,2}}[./]\d{{4}}|\d{{1,2}} {_MONTHS},? \d{{4}}|{_MONTHS} \d{{1,2}},? \d{{4}})\b"
)
SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+(?=[A-Z0-9\"'(\[\u00C0-\u024F\u0400-\u04FF\u3040-\u9FFF])")
WORD = re.compile(r"[^\W\d_][\w'-]*", re.UNICODE)
PROPER = re.compile(
    r"\b(?:[A-Z][a-z]+|[A-Z]{2,})(?:[ \t]+(?:of[ \t]+|de[ \t]+|the[ \t]+)?(?:[A-Z][a-z]+|[A-Z]{2,}))+\b"
)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves may might must
    shall one two three using used use however thus therefore et al via per vs e g i e""".split()
)


def strip_article(name: str) -> str:
    """'The National Oceanography Centre' -> 'National Oceanography Centre' (the article is not the name)."""
    return re.sub(r"^(?:The|A|An)\s+", "", name)


def unique(items: list[str], limit: int = 50) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
        if len(seen) >= limit:
            break
    return list(seen)


def sentences(text: str, max_sentences: int = 400) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        if not para:
            continue
        for sent in SENTENCE_END.split(para):
            if 25 <= len(sent) <= 600 and len(WORD.findall(sent)) >= 5 and sent not in out:
                out.append(sent)
                if len(out) >= max_sentences:
                    return out
    return out


def candidate_phrases(text: str, max_words: int = 3, limit: int = 400) -> list[str]:
    """Runs of 1..max_words content words, split at stopwords and punctuation, most frequent first."""
    counts: dict[str, int] = {}
    for chunk in re.split(r"[.,;:!?()\[\]{}\"\n|/]+", text):
        run: list[str] = []
        for token in WORD.findall(chunk):
            lower = token.lower()
            if lower in STOPWORDS or len(lower) < 3:
                run = []
                continue
            run.append(lower)
            for n in range(1, min(max_words, len(run)) + 1):
                phrase = " ".join(run[-n:])
                counts[phrase] = counts.get(phrase, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [p for p, _ in ranked[:limit]]
