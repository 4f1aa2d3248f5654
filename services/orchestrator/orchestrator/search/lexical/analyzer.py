"""The one text analyzer of the lexical index: the same for indexing, for queries and for highlights, so
a query term always means exactly the token the index holds.

It is tantivy's `en_stem` (simple tokenizer: runs of letters and digits; tokens over 40 bytes dropped;
lowercase; English Snowball stemmer), built here so that it is registered under our own name and can be
run outside the index. Queries never go through tantivy's query parser: their text is analyzed into
terms, so query syntax (`AND`, `(`, `:`, `"`, `-`) has no meaning and cannot fail.
"""

from collections.abc import Collection

from tantivy import Filter, TextAnalyzer, TextAnalyzerBuilder, Tokenizer

ANALYZER_NAME = "orch_en_stem"  # the name it is registered under on the index
MAX_TOKEN_BYTES = 40


def _build() -> TextAnalyzer:
    return (
        TextAnalyzerBuilder(Tokenizer.simple())
        .filter(Filter.remove_long(MAX_TOKEN_BYTES))
        .filter(Filter.lowercase())
        .filter(Filter.stemmer("english"))
        .build()
    )


ANALYZER = _build()


MAX_QUERY_TERMS = 128  # bounds a query's cost (each term is one posting list to merge)


def query_terms(text: str) -> list[str]:
    """The distinct analyzed terms of `text`, in their first order ("Running runs" -> ["run"]), at most
    MAX_QUERY_TERMS of them."""
    return list(dict.fromkeys(ANALYZER.analyze(text)))[:MAX_QUERY_TERMS]


def highlight_spans(text: str, terms: Collection[str]) -> list[tuple[int, int]]:
    """The spans (Python str indices, end exclusive) of the tokens of `text` whose analyzed form is one of
    `terms` (as query_terms gives them), in order."""
    if not terms:
        return []
    wanted = set(terms)
    return [
        (token.char_offset_from, token.char_offset_to)
        for token in ANALYZER.pre_tokenize(text).tokens
        if token.text in wanted
    ]
