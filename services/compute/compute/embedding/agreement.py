"""Load-time checks of a candidate backend against fp32: does it retrieve the same, and is it faster?

Cosine alone does not say whether a backend still finds the right passage, so the check is retrieval on a
fixed set of query/passage pairs: for every query, the passage ranked first among all the passages must be
the one fp32 ranks first (each query's own passage, by construction), and every vector must stay above a
cosine floor against fp32. The pairs come in near neighbours (two on blood pressure, two on databases, ...)
so that a backend that blurs meaning fails.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MIN_COSINE = 0.97  # any one vector against fp32
PAIRS = [
    (
        "does lowering salt intake reduce blood pressure",
        "In a randomized trial, reducing dietary sodium to 1.5 g per day lowered systolic blood pressure by "
        "about 7 mmHg in adults with hypertension.",
    ),
    (
        "beta blockers after heart attack survival",
        "Patients given metoprolol after acute myocardial infarction had lower mortality over two years than "
        "those given placebo.",
    ),
    (
        "how do vector databases index embeddings",
        "HNSW builds a layered proximity graph over the vectors, so a nearest-neighbour query visits a few "
        "hundred nodes instead of the whole collection.",
    ),
    (
        "why use a write-ahead log in a relational database",
        "Before a page is changed on disk, PostgreSQL appends the change to its WAL, so that after a crash "
        "committed transactions can be replayed.",
    ),
    (
        "convert PDF files to structured text",
        "Docling reads PDF, DOCX and HTML documents and returns their headings, paragraphs and tables as "
        "structured text and markdown.",
    ),
    (
        "when was the Eiffel Tower built",
        "The wrought-iron lattice tower on the Champ de Mars in Paris was completed in 1889 for the World's "
        "Fair.",
    ),
    (
        "how long to knead bread dough",
        "Work the dough by hand for about ten minutes, until it is smooth and springs back when pressed.",
    ),
    (
        "offside rule in football",
        "A player is in an offside position if any part of the head, body or feet is nearer to the "
        "opponents' goal line than both the ball and the second-last opponent.",
    ),
    (
        "photosynthesis light reactions",
        "In the thylakoid membranes, light energy splits water and drives the synthesis of ATP and NADPH.",
    ),
    (
        "Wie lange dauert die Probezeit im Arbeitsvertrag?",
        "Die Probezeit darf in Deutschland höchstens sechs Monate dauern; in dieser Zeit gilt eine "
        "Kündigungsfrist von zwei Wochen.",
    ),
]


@dataclass(frozen=True)
class Agreement:
    min_cosine: float
    mean_cosine: float
    top1_agree: int  # queries whose first-ranked passage is fp32's
    queries: int

    @property
    def passed(self) -> bool:
        return self.top1_agree == self.queries and self.min_cosine >= MIN_COSINE

    def __str__(self) -> str:
        return (
            f"top-1 {self.top1_agree}/{self.queries} as fp32, cosine vs fp32 mean {self.mean_cosine:.4f} "
            f"min {self.min_cosine:.4f}"
        )


def pair_texts() -> list[str]:
    return [q for q, _ in PAIRS] + [p for _, p in PAIRS]


def top1(vectors: np.ndarray) -> np.ndarray:
    """For each query (first half of `vectors`), the index of the passage it ranks first."""
    v = _unit(vectors)
    n = len(PAIRS)
    return np.argmax(v[:n] @ v[n:].T, axis=1)


def compare(reference: np.ndarray, candidate: np.ndarray) -> Agreement:
    """`reference` and `candidate` are the vectors of `pair_texts()` from fp32 and from the candidate."""
    cos = np.sum(_unit(reference) * _unit(candidate), axis=1)
    agree = int(np.sum(top1(reference) == top1(candidate)))
    return Agreement(float(cos.min()), float(cos.mean()), agree, len(PAIRS))


def speedup(reference: Callable[[], object], candidate: Callable[[], object], repeats: int = 4) -> float:
    """Reference time / candidate time, each the fastest of `repeats` runs, the two interleaved; each is
    run once first to warm up. The fastest run is the one least disturbed by whatever else shares the
    cores: with the median of per-round ratios, the same int8 model measured 1.02x fp32 in one start and
    1.27x in the next on one CPU."""
    reference()
    candidate()
    ref_s, cand_s = [], []
    for _ in range(repeats):
        ref_s.append(_timed(reference))
        cand_s.append(_timed(candidate))
    return min(ref_s) / max(min(cand_s), 1e-9)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
