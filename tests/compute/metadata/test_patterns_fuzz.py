"""Hypothesis fuzz of the metadata patterns: any text, built from the characters the patterns care about,
is scanned within a per-example deadline (a backtracking pattern blows it on a few thousand characters)."""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compute.chunking.splitters import markdown_sections
from compute.metadata import patterns

# The separators and starters the patterns branch on, plus ordinary letters and digits.
ALPHABET = st.sampled_from([*"aA1@.-+_/:# \t\n`,;!?()'\"", "http://", "https://", "March ", "of "])
TEXT = st.lists(ALPHABET, min_size=0, max_size=400).map("".join)
# Blocks come mostly from the few characters the patterns' repetitions run over.
BLOCK = st.one_of(
    st.lists(st.sampled_from(list("a.@-A1 /")), min_size=1, max_size=4).map("".join),
    st.lists(ALPHABET, min_size=1, max_size=8).map("".join),
)
# A short block repeated thousands of times, between random text: long repetitive runs are where a
# backtracking pattern goes quadratic (the old email pattern took 0.6 s on 20,000 characters of "a.").
HOSTILE = st.tuples(TEXT, BLOCK, st.integers(min_value=1, max_value=20_000), TEXT).map(
    lambda t: t[0] + t[1] * t[2] + t[3]
)
FUZZ = settings(
    max_examples=150,
    deadline=timedelta(milliseconds=1500),
    derandomize=True,  # a fixed seed: the same examples every run
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(HOSTILE)
def test_every_pattern_is_fast_on_any_text(text):
    for pattern in (patterns.EMAIL, patterns.URL, patterns.DATE, patterns.PROPER, patterns.WORD):
        for found in patterns.findall(pattern, text):
            assert found and found in text
    assert patterns.count_words(text) == len(patterns.WORD.findall(text))
    patterns.sentences(text)
    patterns.candidate_phrases(text)
    markdown_sections(text)


@FUZZ
@given(HOSTILE)
def test_found_emails_and_urls_have_their_shape(text):
    for email in patterns.findall(patterns.EMAIL, text):
        local, _, domain = email.partition("@")
        assert 1 <= len(local) <= 64 and "." in domain
    for url in patterns.findall(patterns.URL, text):
        assert url.startswith(("http://", "https://")) and len(url) <= 2048 + 8
        assert url[-1] not in ".,;:!?"
