"""Handing freed heap back to the OS (glibc). Tensors and tokenizer buffers of every shape leave the heap
fragmented, so the resident size of a busy process creeps up by hundreds of MB unless it is trimmed."""

import ctypes

M_ARENA_MAX = -8  # glibc mallopt parameter


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None


def limit_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own arena; with the embed, chunk and HTTP threads the
    resident size grew by hundreds of MB of fragments. Two arenas keep it near what is really used."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, arenas)


def trim() -> None:
    """Returns free pages of every arena to the OS (a few ms for a heap of a GB)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
