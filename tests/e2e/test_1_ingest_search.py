"""Ingest the real corpus (outside awkward/) and generated documents through the HTTP API, follow every
job to its end, and find each document again by a sentence of its own."""

import os
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.support import CORPUS
from tests.support.e2e import (
    chunks,
    corpus_files,
    create_collection,
    generated_documents,
    search,
    shared_text_ratio,
    upload,
    wait_jobs,
)

# 0: the whole corpus; N: the first N files of each format (deterministic, sorted by path).
PER_FORMAT = int(os.environ.get("E2E_CORPUS_PER_FORMAT", "0"))
# A hit from another document counts when this share of the shorter text's 8-word runs is in both.
SAME_TEXT = 0.8


def test_generated_documents_are_found_at_rank_1(stack) -> None:
    with stack.client() as client:
        create_collection(client, "e2e-generated")
        docs = generated_documents("g1")
        accepted = {name: upload(client, "e2e-generated", name, data) for name, (data, _) in docs.items()}
        jobs = wait_jobs(client, [a["job_id"] for a in accepted.values()], timeout_s=180)
        assert {j["status"] for j in jobs.values()} == {"succeeded"}, jobs
        formats = Counter(name.rsplit(".", 1)[1] for name in docs)
        for name, (_, sentence) in docs.items():
            hits = search(client, sentence, ["e2e-generated"], top_k=3)
            assert hits and hits[0]["document_id"] == accepted[name]["document_id"], (name, hits[:1])
        print(
            f"\n[e2e] generated: {len(docs)} documents succeeded, each found at rank 1; "
            f"per format: {dict(sorted(formats.items()))}"
        )


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is absent: no real-world corpus to ingest")
def test_corpus_ingests_and_each_document_is_found_by_its_own_text(stack) -> None:
    files = corpus_files(CORPUS, PER_FORMAT)
    assert files
    t0 = time.monotonic()
    with stack.client() as client:
        create_collection(client, "e2e-corpus")
        accepted = {path: upload(client, "e2e-corpus", path.name, path.read_bytes()) for path in files}
        job_ids = sorted({a["job_id"] for a in accepted.values() if a.get("job_id") and not a["duplicate"]})
        jobs = wait_jobs(client, job_ids, timeout_s=270)
        elapsed = time.monotonic() - t0
        bad = {j: (v["status"], v.get("error")) for j, v in jobs.items() if v["status"] != "succeeded"}
        assert not bad, bad
        per_format = Counter(path.parent.relative_to(CORPUS).parts[0] for path in files)
        print(
            f"\n[e2e] corpus: {len(files)} files ({len(job_ids)} distinct) ingested in {elapsed:.1f} s; "
            f"per format: {dict(sorted(per_format.items()))}"
        )

        document_ids = {a["document_id"]: path for path, a in accepted.items()}
        searched, fair, missed = 0, 0, []
        for document_id, path in sorted(document_ids.items(), key=lambda kv: str(kv[1])):
            texts = [c["text"] for c in chunks(client, document_id) if len(c["text"].split()) >= 8]
            if not texts:
                continue  # nothing long enough to be a distinctive query (e.g. a tiny sheet)
            query = max(texts, key=len)[:1000]
            hits = search(client, query, ["e2e-corpus"], top_k=3)
            searched += 1
            if document_id in {h["document_id"] for h in hits}:
                continue
            # The same text in another document (a duplicate file, a shared template) is a fair hit.
            shared = [shared_text_ratio(query, h["text"]) for h in hits]
            if max(shared, default=0.0) >= SAME_TEXT:
                fair += 1
                continue
            names = [
                str(document_ids.get(h["document_id"], Path(CORPUS, "?")).relative_to(CORPUS)) for h in hits
            ]
            missed.append((str(path.relative_to(CORPUS)), list(zip(names, shared, strict=True))))
        print(
            f"[e2e] corpus search: {searched} documents searched by their own chunk text, "
            f"{searched - len(missed)} in the top 3 ({fair} through the same text in another file)"
        )
        assert not missed, missed
