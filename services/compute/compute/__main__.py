"""`python -m compute`: serve the compute app with uvicorn on COMPUTE_HOST:COMPUTE_PORT."""

import logging
import os
import sys

import uvicorn

from compute import memory
from compute.app import InsecureConfig, create_app
from compute.settings import Settings


def main() -> None:
    memory.limit_arenas()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        app = create_app(settings)
    except InsecureConfig as exc:
        logging.getLogger("compute").error("%s", exc)
        sys.exit(2)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
