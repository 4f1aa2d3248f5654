"""The int8 ONNX form of a sentence-transformers model, exported once and cached.

Export (eager attention, so ONNX Runtime can fuse), ONNX Runtime's BERT fusion, then dynamic int8
quantization per channel, with 7-bit weights (`reduce_range`) where the CPU lacks VNNI. The cache key
covers the model's files, the library versions and the options; files land by rename, and a manifest
written last names the file with its sha256, so a stale, truncated or altered export is rebuilt.
`python -m compute.embedding.onnx_export` exports the default model (`make setup` and the container
build run it; the service runs it at first start)."""

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

log = logging.getLogger("compute.embed.onnx")
FORMAT_VERSION = 1  # bump when the export steps change
OPSET = 17
EXPORT_TIMEOUT_S = 600  # about 10 s on 2 cores
# What the export reads: weights in one file or in shards (model-00001-of-00002.safetensors and its
# index), config and tokenizer. Every match is hashed, so a changed shard means a new export.
_MODEL_GLOBS = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",  # its model_input_names are the exported graph's inputs
    "special_tokens_map.json",
    "vocab.txt",
    "*.model",  # a sentencepiece vocabulary
    "*.safetensors",
    "*.bin",
    "*.index.json",
)


@dataclass(frozen=True)
class QuantOptions:
    per_channel: bool = True
    reduce_range: bool = True
    fusion: bool = True


def options_for_cpu(has_vnni: bool) -> QuantOptions:
    return QuantOptions(reduce_range=not has_vnni)


def cache_key(model_path: Path, options: QuantOptions) -> str:
    """sha256 over the model's weights and config, the exporting libraries' versions and the options."""
    import onnx
    import onnxruntime
    import transformers

    digest = hashlib.sha256()
    meta = {
        "format": FORMAT_VERSION,
        "opset": OPSET,
        "options": asdict(options),
        "versions": [onnxruntime.__version__, onnx.__version__, torch.__version__, transformers.__version__],
    }
    digest.update(json.dumps(meta, sort_keys=True).encode())
    for path in model_files(model_path):
        digest.update(path.name.encode())
        digest.update(_file_sha256(path).encode())
    return digest.hexdigest()[:20]


def model_files(model_path: Path) -> list[Path]:
    found = {p for pattern in _MODEL_GLOBS for p in model_path.glob(pattern) if p.is_file()}
    return sorted(found)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"int8-{key}.json"


def cached(cache_dir: Path, key: str) -> Path | None:
    """The cached int8 model for `key` if it is whole (its digest matches the manifest), else None."""
    manifest = _manifest_path(cache_dir, key)
    try:
        entry = json.loads(manifest.read_text())
        path = cache_dir / entry["file"]
        if _file_sha256(path) == entry["sha256"]:
            return path
        log.warning("cached int8 model %s fails its digest; exporting it again", path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("int8 cache entry %s unreadable (%s); exporting it again", manifest, exc)
    return None


def ensure_int8(
    model_path: Path, cache_dir: Path, options: QuantOptions, in_subprocess: bool = False
) -> tuple[Path, bool]:
    """The int8 model file for `model_path`, exported into `cache_dir` unless a whole one is there.
    Returns (path, exported_now). `in_subprocess`: export in a child process, as the service does, so
    that tracing's 300-400 MB of peak memory and the exporters' logging never reach the service."""
    key = cache_key(model_path, options)
    hit = cached(cache_dir, key)
    if hit is not None:
        return hit, False
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(cache_dir, os.W_OK | os.X_OK):
        raise PermissionError(f"{cache_dir} is not writable")
    if in_subprocess:
        return _export_in_child(model_path, cache_dir, options, key), True
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="int8-export-", dir=cache_dir) as work:
        built = export_int8(model_path, Path(work), options)
        sha = _file_sha256(built)
        final = cache_dir / f"int8-{key}-{sha[:12]}.onnx"
        os.replace(built, final)
        tmp_manifest = Path(work) / "manifest.json"
        tmp_manifest.write_text(json.dumps({"file": final.name, "sha256": sha, "model": str(model_path)}))
        os.replace(tmp_manifest, _manifest_path(cache_dir, key))
    log.info(
        "exported int8 model of %s to %s in %.1f s (%s)",
        model_path,
        final,
        time.perf_counter() - started,
        options,
    )
    return final, True


def _export_in_child(model_path: Path, cache_dir: Path, options: QuantOptions, key: str) -> Path:
    args = [sys.executable, "-m", "compute.embedding.onnx_export", "--model-path", str(model_path)]
    args += ["--cache-dir", str(cache_dir), "--reduce-range", str(int(options.reduce_range))]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, check=False)
    path = cached(cache_dir, key)
    if done.returncode != 0 or path is None:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"int8 export failed (exit {done.returncode}): {' | '.join(tail)}")
    log.info(
        "exported int8 model of %s to %s in %.1f s (%s)",
        model_path,
        path,
        time.perf_counter() - started,
        options,
    )
    return path


def export_int8(model_path: Path, work: Path, options: QuantOptions) -> Path:
    """Export, fuse and quantize in `work`; returns the int8 file there."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(model_path, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    # Eager attention: the SDPA graph is not the pattern the BERT fusion recognizes.
    model = AutoModel.from_pretrained(model_path, local_files_only=True, attn_implementation="eager").eval()
    names = input_names(tokenizer)
    sample = tokenizer(
        ["an example sentence", "another, longer example sentence"], padding=True, return_tensors="pt"
    )
    fp32 = work / "fp32.onnx"
    with torch.inference_mode():
        torch.onnx.export(
            _HiddenStates(model, names),
            tuple(sample[n] for n in names),
            str(fp32),
            input_names=list(names),
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in (*names, "last_hidden_state")},
            opset_version=OPSET,
            dynamo=False,
        )
    source = fp32
    if options.fusion:
        fused = optimize_model(
            str(fp32),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
        )
        log.info("ONNX fusion: %s", {k: v for k, v in fused.get_fused_operator_statistics().items() if v})
        source = work / "fused.onnx"
        fused.save_model_to_file(str(source))
    out = work / "int8.onnx"
    quantize_dynamic(
        str(source),
        str(out),
        per_channel=options.per_channel,
        reduce_range=options.reduce_range,
        weight_type=QuantType.QInt8,
        # The fused ops are in ORT's own domain, where shape inference gives no types.
        extra_options={"DefaultTensorType": 1},  # onnx.TensorProto.FLOAT
    )
    return out


def input_names(tokenizer) -> tuple[str, ...]:
    wanted = ("input_ids", "attention_mask", "token_type_ids")
    return tuple(n for n in wanted if n in tokenizer.model_input_names)


class _HiddenStates(torch.nn.Module):
    """The transformer as a function of positional inputs to its last hidden states (what export traces)."""

    def __init__(self, model: torch.nn.Module, names: tuple[str, ...]):
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, tensors, strict=True))).last_hidden_state


def main(argv: list[str] | None = None) -> None:
    import argparse

    from compute.embedding.cpu import has_vnni
    from compute.embedding.paths import default_cache_dir, default_model_path
    from compute.settings import Settings

    parser = argparse.ArgumentParser(description="Export the int8 ONNX model into the cache.")
    parser.add_argument("--model-path", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: COMPUTE_MODEL_CACHE_DIR")
    parser.add_argument(
        "--reduce-range", type=int, choices=(0, 1), default=None, help="default: 1 without VNNI"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("", "fusion_base", "onnx_model", "onnx_model_bert"):  # quantization logs to root
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log.setLevel(logging.INFO)
    options = options_for_cpu(has_vnni())
    if args.reduce_range is not None:
        options = QuantOptions(reduce_range=bool(args.reduce_range))
    cache_dir = args.cache_dir or Settings().model_cache_dir or default_cache_dir()
    path, exported = ensure_int8(args.model_path or default_model_path(), cache_dir, options)
    print(f"int8 model: {path} ({'exported' if exported else 'cached'})")


if __name__ == "__main__":
    main()
