"""`python -m compute`: serve the compute app with uvicorn on COMPUTE_HOST:COMPUTE_PORT."""

import logging
import os

import uvicorn

from compute import memory
from compute.app import create_app
from compute.settings import Settings


def main() -> None:
    memory.limit_arenas()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
