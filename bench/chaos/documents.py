"""The documents the load uploads: small corpus files (../shared/corpus, found from the repo root as the
e2e tests find it) and generated ones (markdown, text, HTML, CSV, AsciiDoc, DOCX, PDF), each generated
one unique to its seed and sequence number, so that only a deliberate repeat is a duplicate."""

import random
import threading
from pathlib import Path

from tests.support import CORPUS
from tests.support.documents import docx_bytes, pdf_bytes
from tests.support.e2e import generated_documents

MAX_CORPUS_BYTES = 64 * 1024  # compute parses on two shared cores: keep each document small
WORDS = (
    "amber harbour quartz lantern meadow cipher glacier violin orbit harvest river engine copper "
    "falcon marsh turbine beacon saffron tundra basalt"
).split()


def corpus_files(corpus: Path = CORPUS) -> list[Path]:
    """Every corpus file of at most MAX_CORPUS_BYTES outside awkward/ and the groundtruth folders."""
    if not corpus.is_dir():
        return []
    return sorted(
        p
        for p in corpus.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and "awkward" not in p.relative_to(corpus).parts
        and "groundtruth" not in p.parts
        and p.stat().st_size <= MAX_CORPUS_BYTES
    )


def sentence(rng: random.Random, words: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


class DocumentSource:
    def __init__(self, seed: int, corpus_share: float = 0.35) -> None:
        self.rng = random.Random(f"{seed}-documents")
        self.corpus = corpus_files()
        self.corpus_share = corpus_share if self.corpus else 0.0
        self.seed = seed
        self.n = 0
        self.lock = threading.Lock()

    def next(self) -> tuple[str, bytes, str]:
        """(filename, bytes, source), where source is `corpus` or `generated`."""
        with self.lock:
            return self._next()

    def _next(self) -> tuple[str, bytes, str]:
        self.n += 1
        if self.rng.random() < self.corpus_share:
            path = self.rng.choice(self.corpus)
            return path.name, path.read_bytes(), "corpus"
        tag = f"s{self.seed}n{self.n}"
        kind = self.rng.choice(("md", "txt", "html", "csv", "adoc", "docx", "pdf"))
        lines = [f"{tag} {sentence(self.rng)}." for _ in range(self.rng.randint(2, 12))]
        if kind == "docx":
            return f"gen-{tag}.docx", docx_bytes(f"Report {tag}", lines), "generated"
        if kind == "pdf":
            return f"gen-{tag}.pdf", pdf_bytes(f"Report {tag}", lines), "generated"
        name = f"gen-{tag}.{kind}"
        data, _ = generated_documents(tag)[name]
        if kind in ("md", "txt", "adoc"):  # a variable length; HTML and CSV stay well-formed as generated
            data += b"\n" + "\n\n".join(lines).encode() + b"\n"
        return name, data, "generated"
