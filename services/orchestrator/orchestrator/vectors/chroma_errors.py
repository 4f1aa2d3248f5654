"""Chroma's and httpx's exceptions as the orchestrator's typed ones: unreachable or failing (retryable),
missing collection, conflict, or a request Chroma refused (permanent)."""

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from chromadb.errors import ChromaError, InternalError, InvalidArgumentError, NotFoundError, RateLimitError

from orchestrator.errors import (
    VectorCollectionMissing,
    VectorConflict,
    VectorRejected,
    VectorStoreError,
    VectorStoreUnavailable,
)

log = logging.getLogger("orchestrator.vectors")


def _drop_loop_client() -> None:
    try:
        from chromadb.api.async_fastapi import AsyncFastAPI

        AsyncFastAPI._clients.pop(hash(asyncio.get_running_loop()), None)
    except Exception:
        log.debug("could not drop chromadb's per-loop client", exc_info=True)


@contextmanager
def translated(name: str | None = None) -> Iterator[None]:
    """Chroma's and httpx's exceptions as the orchestrator's typed ones."""
    try:
        yield
    except VectorStoreError:
        raise
    except NotFoundError as exc:
        raise VectorCollectionMissing(name or "?") from exc
    except (httpx.TransportError, TimeoutError, ConnectionError) as exc:
        raise VectorStoreUnavailable(f"Chroma is unreachable: {type(exc).__name__}: {exc}") from exc
    except (InternalError, RateLimitError) as exc:
        raise VectorStoreUnavailable(f"Chroma failed: {exc}") from exc
    except RuntimeError as exc:
        if "Event loop is closed" not in str(exc):
            raise
        # chromadb keeps one httpx client per event loop, keyed by hash(loop): a new loop that happens to
        # get a dead one's hash inherits its client. Drop it; the next call makes a fresh one.
        _drop_loop_client()
        raise VectorStoreUnavailable("Chroma's client belonged to a closed event loop; retry") from exc
    except (InvalidArgumentError, ValueError, TypeError) as exc:
        raise VectorRejected(f"Chroma rejected the request on {name!r}: {exc}") from exc
    except ChromaError as exc:
        if "already exists" in str(exc):
            raise VectorConflict(name or "?") from exc
        raise VectorRejected(f"Chroma error on {name!r}: {exc}") from exc
