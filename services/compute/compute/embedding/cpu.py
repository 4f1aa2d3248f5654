"""What the CPU can do, read from /proc/cpuinfo (no guessing from the model name)."""

from functools import lru_cache

BF16_FLAGS = ("amx_bf16", "avx512_bf16")
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def has_fast_bf16() -> bool:
    """True where bf16 matrix math runs in hardware (AMX or AVX-512-BF16); elsewhere bf16 is slower."""
    return any(flag in cpu_flags() for flag in BF16_FLAGS)


def has_vnni() -> bool:
    """True where int8 dot products accumulate in 32 bits in one instruction (AVX-512-VNNI or AVX-VNNI);
    without it the int8 path needs 7-bit weights (reduce_range) not to saturate."""
    return any(flag in cpu_flags() for flag in VNNI_FLAGS)


@lru_cache(maxsize=1)
def cpu_model_name() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None
