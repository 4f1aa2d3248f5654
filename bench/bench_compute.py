"""`make bench-compute`: embedding throughput over HTTP against in-process sentence-transformers, the
agreement of each backend with fp32, parse pages per second, and memory. Medians of repeated runs,
all in one process tree so the ratios are comparable. Writes bench/results/compute.json.

Backends: fp32, bf16 where the CPU has it in hardware, and int8 (ONNX Runtime) always, each forced with
COMPUTE_EMBED_BACKEND; every /embed rate is also divided by in-process torch fp32 timed in the same
rounds on the same texts. Options: --backend=NAME (one backend), --texts=N, --no-parse (embedding only)."""

import gzip
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import torch
from sentence_transformers import SentenceTransformer

from compute.embedding import EmbeddingModel, cpu_model_name, default_model_path, has_fast_bf16, has_vnni
from tests.support import CORPUS, SHARED, ComputeServer

N_TEXTS = 1000
REPEATS = 3
REQUEST_TEXTS = 100  # texts per /embed request, as the orchestrator batches chunks
CLIENT_CONCURRENCY = 2
RESULTS = Path(__file__).resolve().parent / "results"


def load_texts() -> tuple[list[str], str]:
    path = SHARED / "retrieval" / "scifact" / "corpus.jsonl.gz"
    if path.is_file():
        texts = []
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                doc = json.loads(line)
                text = f"{doc.get('title', '')}. {doc.get('text', '')}".strip()
                if len(text.split()) >= 120:  # chunk-sized prose (~200+ word pieces)
                    texts.append(text)
                if len(texts) == N_TEXTS:
                    break
        return texts, "SciFact abstracts"
    words = "the of vector search model document chunk embedding query passage result index".split()
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(words, 180)) for _ in range(N_TEXTS)], "synthetic text (../shared absent)"


def load_model(dtype: torch.dtype) -> SentenceTransformer:
    model = SentenceTransformer(str(default_model_path()), device="cpu")
    model.max_seq_length = 256
    model.to(dtype)
    model.encode(["warm-up"] * 8)
    return model


class Int8InProcess:
    """The service's int8 model called in this process, with sentence-transformers' encode signature."""

    def __init__(self, threads: int):
        self.model = EmbeddingModel("bench", default_model_path(), backend="int8", threads=threads)
        torch.set_num_threads(threads)  # EmbeddingModel sets it too; the fp32 reference shares this process

    def encode(
        self, texts: list[str], batch_size: int = 32, normalize_embeddings: bool = False
    ) -> np.ndarray:
        vectors = self.model.encode(texts, "passage", batch_tokens=2048).vectors
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if normalize_embeddings else vectors


def http_embed_all(client: httpx.Client, texts: list[str]) -> np.ndarray:
    """All texts in requests of REQUEST_TEXTS, CLIENT_CONCURRENCY at a time, as the orchestrator sends them."""
    batches = [texts[i : i + REQUEST_TEXTS] for i in range(0, len(texts), REQUEST_TEXTS)]

    def post(batch: list[str]) -> list[list[float]]:
        resp = client.post("/embed", json={"texts": batch})
        resp.raise_for_status()
        return resp.json()["embeddings"]

    with ThreadPoolExecutor(CLIENT_CONCURRENCY) as pool:
        return np.asarray([v for part in pool.map(post, batches) for v in part], dtype=np.float32)


def side_by_side(
    model: SentenceTransformer, url: str, texts: list[str], fp32: SentenceTransformer | None
) -> dict:
    """In-process and HTTP runs interleaved, so both see the same load on this shared machine. With
    `fp32` given, the fp32 default is timed in the same rounds too, for the speed-up figure."""
    in_rates, http_rates, fp32_rates = [], [], []
    with httpx.Client(base_url=url, timeout=300) as client:
        http_embed_all(client, texts[:64])  # warm-up
        for _ in range(REPEATS):
            if fp32 is not None:
                started = time.perf_counter()
                fp32.encode(texts, batch_size=32)
                fp32_rates.append(len(texts) / (time.perf_counter() - started))
            started = time.perf_counter()
            model.encode(texts, batch_size=32)
            in_rates.append(len(texts) / (time.perf_counter() - started))
            started = time.perf_counter()
            vectors = http_embed_all(client, texts)
            http_rates.append(len(texts) / (time.perf_counter() - started))
    return {
        "in_process": statistics.median(in_rates),
        "http": statistics.median(http_rates),
        "ratio": statistics.median(h / i for h, i in zip(http_rates, in_rates, strict=True)),
        "fp32_in_process": statistics.median(fp32_rates) if fp32_rates else statistics.median(in_rates),
        "vectors": vectors,
    }


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def parse_corpus(url: str) -> dict:
    pdfs = sorted(p for p in (CORPUS / "pdf").glob("*.pdf")) if CORPUS.is_dir() else []
    largest = (
        sorted(
            (p for p in CORPUS.rglob("*") if p.is_file() and "groundtruth" not in p.parts),
            key=lambda p: p.stat().st_size,
            reverse=True,
        )[:4]
        if CORPUS.is_dir()
        else []
    )
    out: dict = {"pdf_files": len(pdfs)}
    with httpx.Client(base_url=url, timeout=300) as client:
        if pdfs:
            pages, rates = 0, []
            for _ in range(REPEATS):
                pages = 0
                started = time.perf_counter()
                for path in pdfs:
                    resp = client.post("/parse", files={"file": (path.name, path.read_bytes())})
                    pages += resp.json().get("pages", 0) if resp.status_code == 200 else 0
                rates.append(pages / (time.perf_counter() - started))
            out.update(pdf_pages=pages, pages_per_s=round(statistics.median(rates), 1))
        out["largest_files"] = []
        for path in largest:
            started = time.perf_counter()
            resp = client.post("/parse", files={"file": (path.name, path.read_bytes())})
            out["largest_files"].append(
                {
                    "file": path.name,
                    "bytes": path.stat().st_size,
                    "status": resp.status_code,
                    "seconds": round(time.perf_counter() - started, 2),
                    "worker_peak_rss_mb": float(resp.headers.get("x-parse-peak-rss-mb", "nan")),
                }
            )
    return out


def _arg(name: str) -> str | None:
    values = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith(f"--{name}=")]
    return values[-1] if values else None


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    threads = len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    texts, source = load_texts()
    texts = texts[: int(_arg("texts") or len(texts))]
    cpu = {"model": cpu_model_name(), "bf16": has_fast_bf16(), "vnni": has_vnni(), "cores": threads}
    print(
        f"inputs: {len(texts)} {source}; {REPEATS} runs each, medians; torch threads {torch.get_num_threads()}\n"
        f"cpu: {cpu['model']}, {threads} cores, hardware bf16 {cpu['bf16']}, vnni {cpu['vnni']}"
    )
    results: dict = {"inputs": source, "texts": len(texts), "cpu": cpu, "backends": {}}

    reference = load_model(torch.float32)
    fp32_vecs = reference.encode(texts, batch_size=32, normalize_embeddings=True)
    backends: dict = {"fp32": torch.float32}
    if has_fast_bf16():
        backends["bf16"] = torch.bfloat16
    default_backend = list(backends)[-1]  # what the service picks on this CPU
    backends["int8"] = "int8"  # measured everywhere; auto picks it only without bf16 (and if faster)
    only = _arg("backend")
    if only:  # e.g. --backend=fp32: one backend, and the corpus parse with it
        backends = {name: dtype for name, dtype in backends.items() if name == only}
        default_backend = only

    log_dir = RESULTS / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for name, dtype in backends.items():
        server = ComputeServer(log_dir / f"compute-{name}.log", COMPUTE_EMBED_BACKEND=name).start()
        try:
            warm_rss = rss_mb(server.proc.pid)
            if dtype == "int8":
                model = Int8InProcess(threads)
            else:
                model = reference if dtype == torch.float32 else load_model(dtype)
            run = side_by_side(model, server.url, texts, fp32=None if model is reference else reference)
            cos = np.sum(run["vectors"] * fp32_vecs, axis=1)
            entry = {
                "in_process_per_s": round(run["in_process"], 1),
                "http_per_s": round(run["http"], 1),
                "http_over_in_process": round(run["ratio"], 3),
                "speedup_vs_fp32_in_process": round(run["http"] / run["fp32_in_process"], 2),
                "min_cosine_vs_fp32": round(float(cos.min()), 5),
                "mean_cosine_vs_fp32": round(float(cos.mean()), 5),
                "compute_rss_after_warmup_mb": round(warm_rss, 1),
            }
            with httpx.Client(base_url=server.url) as client:
                entry["selection"] = client.get("/models").json()["models"][0].get("selection")
            if name == default_backend and "--no-parse" not in sys.argv:
                entry["parse"] = parse_corpus(server.url)
                entry["compute_rss_after_corpus_mb"] = round(rss_mb(server.proc.pid), 1)
                entry["compute_peak_rss_mb"] = round(rss_mb(server.proc.pid, "VmHWM"), 1)
            results["backends"][name] = entry
        finally:
            server.stop()

    print(
        f"\n{'backend':8} {'in-process/s':>13} {'/embed/s':>9} {'/embed÷in-proc':>15} {'/embed÷torch fp32':>18} "
        f"{'mean cos':>9} {'min cos':>8} {'RSS warm MB':>12}"
    )
    for name, e in results["backends"].items():
        print(
            f"{name:8} {e['in_process_per_s']:>13} {e['http_per_s']:>9} {e['http_over_in_process']:>15} "
            f"{e['speedup_vs_fp32_in_process']:>18} {e['mean_cosine_vs_fp32']:>9} {e['min_cosine_vs_fp32']:>8} "
            f"{e['compute_rss_after_warmup_mb']:>12}"
        )
    for name, e in results["backends"].items():
        print(f"  {name}: {e['selection']}")
    default = results["backends"][default_backend]
    parse = default.get("parse", {})
    if parse.get("pdf_files"):
        print(
            f"\nparse: {parse['pdf_pages']} pages in {parse['pdf_files']} corpus PDFs, {parse['pages_per_s']} pages/s (median)"
        )
    for f in parse.get("largest_files", []):
        print(
            f"  largest: {f['file']:45} {f['bytes'] / 1e6:6.1f} MB  {f['status']}  {f['seconds']:6.2f} s  "
            f"worker peak {f['worker_peak_rss_mb']:.0f} MB (cap 1536 MB)"
        )
    print(
        f"compute RSS: after warm-up {default['compute_rss_after_warmup_mb']} MB, after corpus "
        f"{default.get('compute_rss_after_corpus_mb')} MB, peak {default.get('compute_peak_rss_mb')} MB (target 1200 MB)"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compute.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
