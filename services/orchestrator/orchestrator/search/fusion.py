"""Reciprocal rank fusion: a chunk's fused score is the sum, over the sides that found it, of the side's
weight / (k + its rank there), rank 1 being the best. It needs no score calibration between cosine and
BM25, which live on unrelated scales. The defaults (k=60, equal weights: Cormack et al., 2009) were chosen
before any evaluation set was looked at; a request may pass its own."""

from pydantic import BaseModel, Field

from orchestrator.search.hits import SearchHit


class FusionWeights(BaseModel):
    dense: float = Field(1.0, ge=0, le=100)
    lexical: float = Field(1.0, ge=0, le=100)


class Fusion(BaseModel):
    k: float = Field(60.0, gt=0, le=10_000)
    weights: FusionWeights = Field(default_factory=FusionWeights)


def resolve(
    default: Fusion, *, k: float | None = None, dense: float | None = None, lexical: float | None = None
) -> Fusion:
    """`default` with what a request set over it."""
    return Fusion(
        k=default.k if k is None else k,
        weights=FusionWeights(
            dense=default.weights.dense if dense is None else dense,
            lexical=default.weights.lexical if lexical is None else lexical,
        ),
    )


def fuse(dense: list[SearchHit], lexical: list[SearchHit], fusion: Fusion) -> list[SearchHit]:
    """One ranking of the chunks either side (of weight > 0) found, best first (ties: the better dense
    rank, then the better lexical rank). A chunk both found keeps both sides' scores. The hits are the
    caller's own, and are updated in place."""
    merged: dict[str, SearchHit] = {}
    fused: dict[str, float] = {}
    sides = ((fusion.weights.dense, dense, "dense"), (fusion.weights.lexical, lexical, "lexical"))
    for weight, ranking, side in sides:
        if weight == 0:  # a side weighted 0 is left out, not ranked last
            continue
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + weight / (fusion.k + rank)
            if hit.chunk_id in merged:
                setattr(merged[hit.chunk_id].scores, side, getattr(hit.scores, side))
            else:
                merged[hit.chunk_id] = hit
    dense_rank = {h.chunk_id: i for i, h in enumerate(dense)}
    lexical_rank = {h.chunk_id: i for i, h in enumerate(lexical)}
    never = len(dense) + len(lexical)
    order = sorted(
        merged,
        key=lambda c: (-fused[c], dense_rank.get(c, never), lexical_rank.get(c, never)),
    )
    results = []
    for chunk_id in order:
        hit = merged[chunk_id]
        hit.score = fused[chunk_id]
        hit.scores.fused = fused[chunk_id]
        results.append(hit)
    return results
