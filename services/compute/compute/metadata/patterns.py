"""Regular-expression facts found in text: dates, emails, URLs, candidate phrases, sentences.

The text is anyone's upload, so every pattern is linear-time on any input: repetitions are bounded (an
email's local part is at most 64 characters, a URL at most 2 KiB, a name at most 8 words), and a match
may only start where a run of its characters starts (a lookbehind), so a megabyte of "a.a.a." is read
once, not once per position. The `regex` module matches with the GIL released (`concurrent=True`): a
thread scanning a long text never holds up the event loop. Its timeout is a second line only: a pattern
that still ran past it yields nothing rather than an error.
"""

import regex

TIMEOUT_S = 5.0
WINDOW_CHARS = 1 << 20  # counting works window by window, so no list of millions of words is built

EMAIL = regex.compile(
    r"(?<![\w.+-])[.+-]*+\K\w[\w.+-]{0,63}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b",
)
# Longer URLs are cut at 2 KiB; the last character is never trailing punctuation.
URL = regex.compile(r"\bhttps?://[^\s<>()\"']{1,2047}[^\s<>()\"'.,;:!?]")
_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
DATE = regex.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[./]\d{{1,2}}[./]\d{{4}}"
    rf"|\d{{1,2}} {_MONTHS},? \d{{4}}|{_MONTHS} \d{{1,2}},? \d{{4}})\b"
)
SENTENCE_END = regex.compile(r"(?<=[.!?。！？])\s+(?=[A-Z0-9\"'(\[\u00C0-\u024F\u0400-\u04FF\u3040-\u9FFF])")
PARAGRAPH_BREAK = regex.compile(r"\n\s*\n")
PHRASE_BREAK = regex.compile(r"[.,;:!?()\[\]{}\"\n|/]+")
WORD = regex.compile(r"[^\W\d_][\w'-]*")
_NAME_WORD = r"(?:[A-Z][a-z]{1,40}|[A-Z]{2,40})"
PROPER = regex.compile(
    rf"\b{_NAME_WORD}(?:[ \t]{{1,8}}(?:of[ \t]{{1,8}}|de[ \t]{{1,8}}|the[ \t]{{1,8}})?{_NAME_WORD}){{1,7}}\b"
)
_ARTICLE = regex.compile(r"^(?:The|A|An)\s+")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves may might must
    shall one two three using used use however thus therefore et al via per vs e g i e""".split()
)


def findall(pattern: regex.Pattern, text: str) -> list[str]:
    try:
        return pattern.findall(text, concurrent=True, timeout=TIMEOUT_S)
    except TimeoutError:
        return []


def split(pattern: regex.Pattern, text: str) -> list[str]:
    try:
        return pattern.split(text, concurrent=True, timeout=TIMEOUT_S)
    except TimeoutError:
        return [text]


def count_words(text: str) -> int:
    total = 0
    start = 0
    while start < len(text):
        end = min(len(text), start + WINDOW_CHARS)
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            end = cut + 1 if cut > start else end  # cut between words where the window allows
        total += len(findall(WORD, text[start:end]))
        start = end
    return total


def strip_article(name: str) -> str:
    """'The National Oceanography Centre' -> 'National Oceanography Centre' (the article is not the name)."""
    return _ARTICLE.sub("", name)


def unique(items: list[str], limit: int = 50) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
        if len(seen) >= limit:
            break
    return list(seen)


def sentences(text: str, max_sentences: int = 400) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for para in split(PARAGRAPH_BREAK, text):
        para = " ".join(para.split())
        if not para:
            continue
        for sent in split(SENTENCE_END, para):
            if 25 <= len(sent) <= 600 and sent not in seen and len(findall(WORD, sent)) >= 5:
                seen.add(sent)
                out.append(sent)
                if len(out) >= max_sentences:
                    return out
    return out


def candidate_phrases(text: str, max_words: int = 3, limit: int = 400, max_word_chars: int = 40) -> list[str]:
    """Runs of 1..max_words content words, split at stopwords and punctuation, most frequent first."""
    counts: dict[str, int] = {}
    for chunk in split(PHRASE_BREAK, text):
        run: list[str] = []
        for token in findall(WORD, chunk):
            lower = token.lower()
            if lower in STOPWORDS or not 3 <= len(lower) <= max_word_chars:
                run = []
                continue
            run.append(lower)
            for n in range(1, min(max_words, len(run)) + 1):
                phrase = " ".join(run[-n:])
                counts[phrase] = counts.get(phrase, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [p for p, _ in ranked[:limit]]
