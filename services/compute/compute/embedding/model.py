"""One embedding model on one backend (torch fp32, torch bf16 or ONNX Runtime int8), with its tokenizer.

bf16 is used only where the CPU runs it in hardware, and only after a self-check at load time shows
it agrees with fp32 (cosine >= 0.99 on probe texts). int8 (ONNX Runtime, for CPUs without bf16) is used
under `auto` only where it retrieves as fp32 does on fixed query/passage pairs and is measurably faster
than fp32 on this CPU; otherwise the model stays in fp32. Every backend tokenizes, batches and pads the
same way, so token counts and truncation never depend on the backend.
"""

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

import compute.embedding.agreement as agreement
from compute.embedding.cpu import has_fast_bf16, has_vnni
from compute.embedding.paths import default_cache_dir

log = logging.getLogger("compute.embed")
MAX_SEQ_TOKENS = 256  # what MiniLM was trained on; 128 halves retrieval quality
MIN_AGREEMENT_COSINE = 0.99
# int8 must beat fp32 by this much in the load-time probe for `auto` to pick it: below it the small loss
# in agreement buys too little, and the probe's noise on a busy machine is about 5%.
INT8_MIN_SPEEDUP = 1.1
SPEED_PROBE_TEXTS = 8  # of MAX_SEQ_TOKENS each: about a second of fp32 on one thread
SPEED_PROBE_REPEATS = 6  # the fastest of these runs counts (agreement.speedup): ~10 s at start
PAD_TO_MULTIPLE = 32  # word pieces; MAX_SEQ_TOKENS is a multiple of it
# A forward pass pads its texts to the longest (and that to a multiple of PAD_TO_MULTIPLE): a text that
# would pad the pass by more than this share of the word pieces its texts hold starts a new pass.
MAX_PAD_SHARE = 0.25
_PROBES = [
    "Docling converts PDF, DOCX and HTML documents into structured text.",
    "The patient cohort showed a significant reduction in systolic blood pressure after twelve weeks.",
    "query: how do vector databases store embeddings",
    "Kurz gesagt: ein Satz auf Deutsch mit Umlauten, äöü.",
]


class BackendRefused(RuntimeError):
    """A backend asked for by name (COMPUTE_EMBED_BACKEND) cannot be used correctly here."""


@dataclass
class Encoded:
    vectors: np.ndarray  # float32, (n, dim), not normalized
    truncated: list[bool]
    token_counts: list[int]  # word pieces the model read per text (after truncation)


class EmbeddingModel:
    def __init__(
        self,
        name: str,
        path: Path,
        backend: str = "auto",
        threads: int = 1,
        cache_dir: Path | None = None,
        cpu_bf16: bool | None = None,
    ):
        """`cache_dir` holds the int8 export (None: paths.default_cache_dir); `cpu_bf16`
        overrides what /proc/cpuinfo says (tests)."""
        self.name = name
        self.path = path
        self.threads = threads
        torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.model.max_seq_length = min(self.model.max_seq_length or MAX_SEQ_TOKENS, MAX_SEQ_TOKENS)
        self.model.eval()
        self.tokenizer = self.model.tokenizer
        self.dim = int(self.model.get_embedding_dimension())
        self.dtype = "float32"
        self.backend = "torch"
        self.selection = "fp32: requested" if backend == "fp32" else "fp32"
        self._onnx = None  # OnnxRunner when int8 is in use
        bf16_hw = has_fast_bf16() if cpu_bf16 is None else cpu_bf16
        if backend == "bf16" or (backend == "auto" and bf16_hw):
            self._try_bf16(forced=backend == "bf16")
        if backend == "int8" or (backend == "auto" and self.dtype == "float32"):
            self._try_int8(forced=backend == "int8", cache_dir=cache_dir)

    @property
    def max_seq_length(self) -> int:
        return int(self.model.max_seq_length)

    def _try_bf16(self, forced: bool) -> None:
        reference = self._forward(_PROBES)
        self.model.to(torch.bfloat16)
        candidate = self._forward(_PROBES)
        min_cos = float(np.min(_cosines(reference, candidate)))
        if min_cos >= MIN_AGREEMENT_COSINE or forced:
            self.dtype = "bfloat16"
            self.selection = (
                f"bf16: {'requested' if forced else 'hardware bf16'}, min cosine vs fp32 {min_cos:.5f}"
            )
            log.info("model %s runs in bf16 (min cosine vs fp32 %.5f)", self.name, min_cos)
        else:
            self.model.to(torch.float32)
            self.selection = f"fp32: bf16 disagrees with fp32 (min cosine {min_cos:.4f})"
            log.warning("bf16 disagrees with fp32 (min cosine %.4f): model %s stays fp32", min_cos, self.name)

    def _try_int8(self, forced: bool, cache_dir: Path | None) -> None:
        """int8 where it retrieves as fp32 does and (under auto) is faster. Asked for by name and unusable,
        it refuses to start: serving fp32 instead would hide the misconfiguration."""
        try:
            runner, probe_runner = self._load_int8(cache_dir)
        except Exception as exc:
            if forced:
                raise BackendRefused(f"int8 backend for model {self.name} unavailable: {exc}") from exc
            self.selection = f"fp32: int8 unavailable ({exc})"
            log.warning("int8 unavailable for model %s (%s): it stays fp32", self.name, exc)
            return
        texts = agreement.pair_texts()
        fit = agreement.compare(self._forward(texts), runner.forward(self._features(texts, "np")))
        if not fit.passed:
            if forced:
                raise BackendRefused(f"int8 disagrees with fp32 for model {self.name}: {fit}")
            self.selection = f"fp32: int8 disagrees with fp32 ({fit})"
            log.warning("int8 disagrees with fp32 for model %s (%s): it stays fp32", self.name, fit)
            return
        probe = self._speed_probe_texts()
        # On one thread each: with two, a thread of either side preempted by anything else on the cores
        # stalls every operator, and the same int8 model read 0.97x fp32 in one start, 1.33x in the next.
        # One thread measures what differs (the int8 kernels); both scale alike over the cores.
        torch.set_num_threads(1)
        try:
            ratio = agreement.speedup(
                lambda: self._forward(probe),
                lambda: probe_runner.forward(self._features(probe, "np")),
                repeats=SPEED_PROBE_REPEATS,
            )
        finally:
            torch.set_num_threads(self.threads)
        if not forced and ratio < INT8_MIN_SPEEDUP:
            self.selection = (
                f"fp32: int8 only {ratio:.2f}x fp32 on this CPU (needs {INT8_MIN_SPEEDUP}x); {fit}"
            )
            log.info("model %s stays fp32: %s", self.name, self.selection)
            return
        self._onnx = runner
        self.backend, self.dtype = "onnxruntime", "int8"
        how = "requested" if forced else "auto"
        self.selection = f"int8 ({how}): {ratio:.2f}x fp32 on this CPU; {fit}"
        log.info("model %s runs in int8 (onnxruntime): %s", self.name, self.selection)
        # The torch weights are no longer read (tokenizer, prompts and settings stay): free them.
        self.model.to(torch.device("meta"))

    def _load_int8(self, cache_dir: Path | None):
        # Here, not at the top: onnx_runner loads ONNX Runtime, which only int8 needs, and
        # `python -m compute.embedding.onnx_export` must not find that module imported by the package.
        from compute.embedding.onnx_export import ensure_int8, input_names, options_for_cpu
        from compute.embedding.onnx_runner import OnnxRunner

        pooling, normalize = self._pooling()
        options = options_for_cpu(has_vnni())
        cache_dir = cache_dir or default_cache_dir()
        names = input_names(self.tokenizer)

        def runners(path: Path) -> tuple[OnnxRunner, OnnxRunner]:  # to serve with, and to time on one thread
            serving = OnnxRunner(path, self.threads, names, pooling, normalize)
            return serving, OnnxRunner(path, 1, names, pooling, normalize)

        try:
            path, _ = ensure_int8(self.path, cache_dir, options, in_subprocess=True)
            return runners(path)
        except OSError as exc:  # a read-only cache: export into a temp dir for this process only
            log.warning("int8 cache %s not writable (%s): exporting into a temp dir", cache_dir, exc)
            with tempfile.TemporaryDirectory(prefix="docsearch-int8-") as tmp:
                path, _ = ensure_int8(self.path, Path(tmp), options, in_subprocess=True)
                return runners(path)

    def _pooling(self) -> tuple[str, bool]:
        """How the sentence-transformers pipeline pools ("mean"/"cls") and whether it normalizes; raises
        ValueError for a pipeline the ONNX runner does not reproduce."""
        kinds = [type(m).__name__ for m in self.model]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise ValueError(f"pipeline {kinds} is not transformer + pooling (+ normalize)")
        pooling = self.model[1]
        mode = pooling.pooling_mode
        mode = mode[0] if isinstance(mode, (list, tuple)) and len(mode) == 1 else mode
        if mode not in ("mean", "cls") or not getattr(pooling, "include_prompt", True):
            raise ValueError(f"pooling {mode!r} is not supported")
        return str(mode), kinds[-1] == "Normalize"

    def _speed_probe_texts(self) -> list[str]:
        """SPEED_PROBE_TEXTS texts of a full window each: the fixed passages, rotated and joined."""
        passages = [p for _, p in agreement.PAIRS]
        return [" ".join(passages[i:] + passages[:i]) for i in range(SPEED_PROBE_TEXTS)]

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Word pieces per text, special tokens included, before truncation."""
        enc = self.tokenizer(texts, add_special_tokens=True, truncation=False, return_attention_mask=False)
        return [len(ids) for ids in enc["input_ids"]]

    def _features(self, texts: list[str], tensors: str = "pt") -> dict:
        """Tokenized `texts`, padded to a multiple of PAD_TO_MULTIPLE: with every length its own tensor
        shape, the native kernel caches and the heap grew by 400 MB over 600 small requests; with lengths
        bucketed the shapes are a small fixed set (mean pooling ignores padding)."""
        return dict(
            self.tokenizer(
                texts,
                padding=True,
                pad_to_multiple_of=PAD_TO_MULTIPLE,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors=tensors,
            )
        )

    def _forward(self, texts: list[str], prompt_name: str | None = None) -> np.ndarray:
        """One forward pass on the backend in use."""
        if prompt_name:
            texts = [self.model.prompts[prompt_name] + t for t in texts]
        if self._onnx is not None:
            return self._onnx.forward(self._features(texts, "np"))
        with torch.inference_mode():
            out = self.model(self._features(texts))["sentence_embedding"]
        return out.float().numpy()

    def encode(self, texts: list[str], kind: str, batch_tokens: int) -> Encoded:
        """Embed `texts` in forward passes of at most `batch_tokens` padded word pieces each, and of at
        most MAX_PAD_SHARE padding: every text of a pass is padded to its longest, and a title beside an
        abstract (one small document's chunks) doubled the cost of the pass; a pass costs little more."""
        lengths = self.token_lengths(texts)
        limit = self.max_seq_length
        prompt = kind if kind in (self.model.prompts or {}) else None
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batch: list[int] = []
        held = 0  # word pieces the batch's texts hold
        for i in order:
            # As padded: texts under PAD_TO_MULTIPLE word pieces are all that long, and share a pass.
            length = -(-min(lengths[i], limit) // PAD_TO_MULTIPLE) * PAD_TO_MULTIPLE
            padded = length * (len(batch) + 1)  # sorted: the newest text is the longest
            if batch and (padded > batch_tokens or padded > (held + length) * (1 + MAX_PAD_SHARE)):
                out[batch] = self._forward([texts[j] for j in batch], prompt)
                batch, held = [], 0
            batch.append(i)
            held += length
        if batch:
            out[batch] = self._forward([texts[j] for j in batch], prompt)
        return Encoded(
            vectors=out, truncated=[n > limit for n in lengths], token_counts=[min(n, limit) for n in lengths]
        )


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)
