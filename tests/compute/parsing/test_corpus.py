"""Every real file of ../shared/corpus through /parse: text where there is text, a clear code otherwise."""

import re
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support import CORPUS

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason="../shared/corpus is absent (a user's fresh clone)"
)

PASSWORDS = {
    "docling_2206.01062_pg3_pw1234.pdf": "1234",
    "pypdf_encrypted-file_pw-test.pdf": "test",
    "unstructured_password.pdf": "password",
}
MIN_WORD_RECALL = {"pdf": 0.8}  # every other format: 0.9
AWKWARD_DEADLINE_S = 60.0


def _files(root: Path) -> list[Path]:
    return (
        sorted(p for p in root.rglob("*") if p.is_file() and "groundtruth" not in p.parts)
        if root.is_dir()
        else []
    )


def _groundtruth(path: Path) -> Path | None:
    folder = path.parent / "groundtruth"
    for candidate in (folder / f"{path.name}.md", folder / f"{path.stem}.md"):
        if candidate.is_file():
            return candidate
    return None


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", text)}


def test_regular_corpus_parses_with_word_recall(client):
    files = [p for p in _files(CORPUS) if "awkward" not in p.relative_to(CORPUS).parts]
    assert files, "corpus is empty"
    recall: dict[str, list[float]] = defaultdict(list)
    failures = []
    for path in files:
        resp = client.post("/parse", files={"file": (path.name, path.read_bytes())})
        if resp.status_code != 200 or not resp.json()["text"].strip():
            failures.append((path.name, resp.status_code, resp.text[:200]))
            continue
        truth = _groundtruth(path)
        if truth is not None:
            body = resp.json()
            expected = _words(truth.read_text(encoding="utf-8", errors="replace"))
            found = _words(body["text"] + " " + body["markdown"])
            recall[path.parent.name].append(len(expected & found) / max(1, len(expected)))
    assert not failures, failures
    print("\nword recall of the ground truth, per format (mean, min, files):")
    for fmt, values in sorted(recall.items()):
        mean = sum(values) / len(values)
        print(f"  {fmt:9s} {mean:.3f}  {min(values):.3f}  {len(values)}")
        assert mean >= MIN_WORD_RECALL.get(fmt, 0.9), (fmt, values)


def test_awkward_files_get_an_answer_and_the_service_stays_up(client):
    answers = {}
    for path in _files(CORPUS / "awkward"):
        started = time.monotonic()
        resp = client.post(
            "/parse", files={"file": (path.name, path.read_bytes())}, timeout=AWKWARD_DEADLINE_S + 30
        )
        elapsed = time.monotonic() - started
        assert elapsed < AWKWARD_DEADLINE_S, (path.name, elapsed)
        if resp.status_code == 200:
            answers[path.name] = "200"
        else:
            assert 400 <= resp.status_code < 500, (path.name, resp.status_code, resp.text[:300])
            answers[path.name] = f"{resp.status_code} {resp.json()['error']['code']}"
        assert client.get("/livez").status_code == 200
    print("\nawkward files:", answers)
    assert answers
    for name in PASSWORDS:
        if name in answers:
            assert answers[name] == "422 encrypted_document"


@pytest.mark.parametrize("name", sorted(PASSWORDS))
def test_encrypted_corpus_pdfs_open_with_their_passwords(client, name):
    path = CORPUS / "awkward" / "encrypted" / name
    if not path.is_file():
        pytest.skip(f"{name} not in this corpus")
    resp = client.post(
        "/parse", files={"file": (name, path.read_bytes())}, data={"password": PASSWORDS[name]}
    )
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json()["text"].strip()
