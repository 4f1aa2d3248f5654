"""SciFact (BEIR) from the shared folder: its corpus, test queries and relevance judgements, and its
abstracts as the files the benchmark uploads."""

import gzip
import json

from tests.support import SHARED

SCIFACT = SHARED / "retrieval" / "scifact"


def load_scifact() -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        corpus = [json.loads(line) for line in fh]
    queries = {}
    for line in (SCIFACT / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        queries[q["_id"]] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    return corpus, queries, qrels


def doc_text(doc: dict, copy: int = 0) -> str:
    marker = f"[copy {copy}] " if copy else ""
    return f"{marker}{doc.get('title', '')}\n\n{doc.get('text', '')}\n"


def grouped(corpus: list[dict], per_file: int, copy: int = 0) -> list[dict]:
    """SciFact abstracts `per_file` to an uploaded file: a document of a few pages instead of one abstract."""
    return [
        {
            "_id": f"group-{copy}-{i}",
            "title": f"SciFact abstracts {i}-{i + len(part) - 1}",
            "text": "\n\n".join(doc_text(d, copy) for d in part),
        }
        for i, part in ((i, corpus[i : i + per_file]) for i in range(0, len(corpus), per_file))
    ]
