"""Command line:
- `python -m orchestrator api [--workers N]`: the HTTP API (ORCH_HOST:ORCH_PORT, default 127.0.0.1:8080)
  with N in-process workers (ORCH_API_WORKERS, default 2; 0 for none);
- `python -m orchestrator worker [--concurrency N]`: a worker pool as its own process.
"""

import argparse
import asyncio
import logging

from prometheus_client import REGISTRY, start_http_server

from orchestrator.clients import Clients
from orchestrator.jobs import PoolCollector, WorkerPool, load_factory
from orchestrator.settings import Settings


def _positive(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("must be between 1 and 256")
    return value


async def run_worker(
    settings: Settings, *, concurrency: int | None, handlers: str | None, worker_id: str | None
) -> None:
    clients = Clients.build(settings)
    try:
        factory = load_factory(handlers or settings.handlers)
        pool = WorkerPool(clients.queue, factory(clients), concurrency=concurrency, worker_id=worker_id)
        if settings.metrics_port is not None:
            REGISTRY.register(PoolCollector(pool))
            start_http_server(settings.metrics_port)
        await pool.run()
    finally:
        await clients.close()


def run_api(settings: Settings, *, workers: int | None, host: str | None, port: int | None) -> None:
    import uvicorn

    from orchestrator.api import create_app

    if workers is not None:
        settings = settings.model_copy(update={"api_workers": workers})
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        proxy_headers=False,
        # Open event streams never close on their own: without a deadline uvicorn would wait for them
        # forever before the lifespan's shutdown (workers stopping, the hub ending its streams) runs.
        timeout_graceful_shutdown=settings.shutdown_deadline_s,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestrator")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run a worker pool until SIGTERM")
    worker.add_argument("--concurrency", type=_positive, help="jobs at once (ORCH_CONCURRENCY)")
    worker.add_argument("--handlers", help="module:attribute of the handler factory (ORCH_HANDLERS)")
    worker.add_argument("--worker-id", help="consumer name in Redis (default: host-pid-random)")
    api = commands.add_parser("api", help="serve /api/v1 (with in-process workers) until SIGTERM")
    api.add_argument(
        "--workers",
        type=int,
        choices=range(0, 257),
        metavar="N",
        help="in-process worker concurrency, 0 for none (ORCH_API_WORKERS)",
    )
    api.add_argument("--host", help="bind address (ORCH_HOST)")
    api.add_argument("--port", type=int, help="port (ORCH_PORT)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per Chroma and compute request
    if args.command == "api":
        run_api(Settings(), workers=args.workers, host=args.host, port=args.port)
        return
    asyncio.run(
        run_worker(
            Settings(),
            concurrency=args.concurrency,
            handlers=args.handlers,
            worker_id=args.worker_id,
        )
    )


if __name__ == "__main__":
    main()
