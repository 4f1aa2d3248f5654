"""`python -m compute`: serve the compute app with uvicorn on COMPUTE_HOST:COMPUTE_PORT."""

import ctypes
import logging
import os

import uvicorn

from compute.app import create_app
from compute.settings import Settings


M_ARENA_MAX = -8  # glibc mallopt parameter


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread that allocates its own arena; with the embed, chunk and HTTP threads the
    resident size grew by hundreds of MB of fragments. Two arenas keep it near what is really used."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)
    except (OSError, AttributeError):  # not glibc
        pass


def main() -> None:
    _limit_malloc_arenas()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    settings = Settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)


if __name__ == "__main__":
    main()
