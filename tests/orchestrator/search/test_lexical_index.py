"""The lexical index on real tantivy in a temporary directory, and its one analyzer."""

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy

from orchestrator.catalog.changes import ORIGIN
from orchestrator.search.lexical import (
    IndexedChunk,
    LexicalIndex,
    highlight_spans,
    query_terms,
)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LexicalIndex]:
    lexical = LexicalIndex.open(tmp_path / "slot-0")
    yield lexical
    lexical.close()


def chunks(document_id: str, generation: int, *texts: str, heading: str = "Intro") -> list[IndexedChunk]:
    return [
        IndexedChunk(
            chunk_id=f"{document_id}:{generation}:{i}",
            chunk_index=i,
            text=text,
            heading_path=[heading, "Détails"],
            pages=[i + 1],
        )
        for i, text in enumerate(texts)
    ]


def search(index: LexicalIndex, query: str, collections: tuple[str, ...] = ("docs",), limit: int = 10):
    return index.search(list(collections), query_terms(query), limit)


def test_an_exact_part_number_ranks_first_among_similar_chunks(index: LexicalIndex) -> None:
    similar = [f"Replace the filter cartridge with part XK-22{n:02d}c before winter." for n in range(30)]
    index.replace_document("docs", "d-similar", 1, chunks("d-similar", 1, *similar))
    index.replace_document(
        "docs", "d-exact", 3, chunks("d-exact", 3, "Replace the filter cartridge with part XK-2207b yearly.")
    )
    index.commit("1-0")

    hits = search(index, "XK-2207b")

    assert hits[0].chunk_id == "d-exact:3:0"
    top = hits[0]
    assert (top.document_id, top.collection, top.generation, top.chunk_index) == ("d-exact", "docs", 3, 0)
    assert top.text == "Replace the filter cartridge with part XK-2207b yearly."
    assert top.heading_path == ["Intro", "Détails"] and top.pages == [1]
    assert top.score > hits[1].score  # the rare token decides, not the words every chunk shares


def test_a_surname_finds_its_chunk(index: LexicalIndex) -> None:
    index.replace_document(
        "docs",
        "d1",
        1,
        chunks(
            "d1", 1, "The report was signed by the chief engineer.", "Approved by Dr. Okonkwo-Hale in May."
        ),
    )
    index.commit("1-0")
    assert [h.chunk_id for h in search(index, "okonkwo")] == ["d1:1:1"]


def test_stemming_matches_other_forms_of_a_word(index: LexicalIndex) -> None:
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "The pump runs all night.", "A quiet valve."))
    index.commit("1-0")
    assert [h.chunk_id for h in search(index, "running")] == ["d1:1:0"]
    assert query_terms("Running runs RUN") == ["run"]


def test_replacing_a_document_removes_its_old_text(index: LexicalIndex) -> None:
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "old albatross text", "more albatross"))
    index.commit("1-0")
    assert len(search(index, "albatross")) == 2

    index.replace_document("docs", "d1", 2, chunks("d1", 2, "new pelican text"))
    index.commit("2-0")

    assert search(index, "albatross") == []
    assert [(h.chunk_id, h.generation) for h in search(index, "pelican")] == [("d1:2:0", 2)]
    assert index.stats().chunks == 1


def test_deletes_by_document_and_by_collection(index: LexicalIndex) -> None:
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "walrus one"))
    index.replace_document("docs", "d2", 1, chunks("d2", 1, "walrus two"))
    index.replace_document("other", "d3", 1, chunks("d3", 1, "walrus three"))
    index.commit("1-0")

    index.delete_document("d1")
    index.commit("2-0")
    assert {h.document_id for h in search(index, "walrus", ("docs", "other"))} == {"d2", "d3"}

    index.delete_collection("docs")
    index.commit("3-0")
    assert {h.document_id for h in search(index, "walrus", ("docs", "other"))} == {"d3"}


def test_search_keeps_to_the_collections_asked_for(index: LexicalIndex) -> None:
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "heron in docs"))
    index.replace_document("other", "d2", 1, chunks("d2", 1, "heron in other"))
    index.replace_document("third", "d3", 1, chunks("d3", 1, "heron in third"))
    index.commit("1-0")

    assert {h.collection for h in search(index, "heron", ("docs",))} == {"docs"}
    assert {h.collection for h in search(index, "heron", ("docs", "third"))} == {"docs", "third"}
    assert search(index, "heron", ()) == []
    assert search(index, "heron", ("missing",)) == []


def test_writes_are_invisible_until_commit(index: LexicalIndex) -> None:
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "ibis"))
    assert search(index, "ibis") == []
    index.commit("1-0")
    assert len(search(index, "ibis")) == 1


def test_the_cursor_persists_across_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "slot-0"
    first = LexicalIndex.open(path)
    assert first.cursor == ORIGIN
    first.replace_document("docs", "d1", 1, chunks("d1", 1, "kestrel"))
    first.commit("1700000000000-3")
    first.replace_document("docs", "d2", 1, chunks("d2", 1, "kestrel uncommitted"))  # dropped by close
    first.close()

    again = LexicalIndex.open(path)
    try:
        assert again.cursor == "1700000000000-3"
        assert [h.chunk_id for h in search(again, "kestrel")] == ["d1:1:0"]
    finally:
        again.close()


def test_an_index_of_another_schema_is_wiped_and_starts_at_origin(tmp_path: Path) -> None:
    path = tmp_path / "slot-0"
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("something_else", stored=True)
    (path / "index").mkdir(parents=True)
    tantivy.Index(builder.build(), path=str(path / "index"))
    (path / "cursor").write_text("1700000000000-3")

    index = LexicalIndex.open(path)
    try:
        assert index.cursor == ORIGIN
        index.replace_document("docs", "d1", 1, chunks("d1", 1, "plover"))
        index.commit("1-0")
        assert len(search(index, "plover")) == 1
    finally:
        index.close()


def test_clear_drops_committed_and_uncommitted_entries(index: LexicalIndex) -> None:
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "egret committed"))
    index.commit("1-0")
    index.replace_document("docs", "d2", 1, chunks("d2", 1, "egret uncommitted"))

    index.clear()
    assert len(search(index, "egret")) == 1  # the old state serves until the rebuild commits
    index.replace_document("docs", "d3", 1, chunks("d3", 1, "egret rebuilt"))
    index.commit("2-0")

    assert [h.document_id for h in search(index, "egret")] == ["d3"]


@pytest.mark.parametrize(
    "query",
    [
        'AND ( : " -',
        "title:foo",
        "a OR",
        '"unclosed',
        "*",
        "field:[1 TO",
        "^2 ~ +- !",
        "",
        "   ",
        "\\",
        "ü" * 300,
    ],
)
def test_hostile_query_strings_neither_fail_nor_mean_syntax(index: LexicalIndex, query: str) -> None:
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "and or not title foo"))
    index.commit("1-0")
    hits = search(index, query)
    assert all(h.document_id == "d1" for h in hits)


def test_syntax_characters_are_plain_words_only(index: LexicalIndex) -> None:
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "the and gate"))
    index.replace_document("docs", "d2", 1, chunks("d2", 1, "unrelated text"))
    index.commit("1-0")
    # "AND" is the word "and"; "-unrelated" does not exclude anything, it is the word "unrelated".
    assert {h.document_id for h in search(index, "AND -unrelated")} == {"d1", "d2"}
    assert search(index, 'text:"gate"')[0].document_id in {"d1", "d2"}


def test_searches_run_while_another_thread_writes(index: LexicalIndex) -> None:
    index.replace_document("docs", "base", 1, chunks("base", 1, "osprey base"))
    index.commit("1-0")

    def write() -> None:
        for n in range(40):
            index.replace_document("docs", f"d{n % 5}", n + 1, chunks(f"d{n % 5}", n + 1, f"osprey {n}"))
            index.commit(f"{n + 2}-0")

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        writer = pool.submit(write)
        readers = [pool.submit(lambda: [len(search(index, "osprey")) for _ in range(100)]) for _ in range(2)]
        writer.result()
        counts = [n for r in readers for n in r.result()]
    assert all(1 <= n <= 6 for n in counts)
    assert len(search(index, "osprey")) == 6  # base and the five documents, each once
    assert index.cursor == "41-0"


def test_stats_count_chunks_and_bytes(index: LexicalIndex) -> None:
    empty = index.stats()
    index.replace_document("docs", "d1", 1, chunks("d1", 1, "one", "two", "three"))
    index.commit("1-0")
    stats = index.stats()
    assert (empty.chunks, stats.chunks) == (0, 3)
    assert stats.bytes_on_disk > empty.bytes_on_disk


def test_highlight_spans_are_python_character_offsets_for_non_ascii_text() -> None:
    text = "Ça coûte 𝔘n prix: Straße-Läufer RUNNING über Café runs"
    spans = highlight_spans(text, query_terms("straße läufer run café"))
    assert [text[a:b] for a, b in spans] == ["Straße", "Läufer", "RUNNING", "Café", "runs"]
    assert highlight_spans(text, []) == []
    assert highlight_spans(text, query_terms("absent")) == []
