"""Chroma's and httpx's exceptions as the orchestrator's typed ones: unreachable or failing (retryable),
missing collection, conflict, or a request Chroma refused (permanent). Their messages are fixed (they reach
clients and job records); Chroma's own text, which may name hosts and URLs, goes to the log."""

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

UNREACHABLE = "the vector store is unreachable or did not answer in time; retry shortly"
FAILED = "the vector store failed; retry shortly"
REJECTED = "the vector store refused the request (a vector, metadata value or filter it does not take)"


def _log_cause(what: str, name: str | None, exc: BaseException) -> None:
    log.warning("Chroma %s (collection %r): %s: %s", what, name, type(exc).__name__, exc)


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
        _log_cause("is unreachable", name, exc)
        raise VectorStoreUnavailable(UNREACHABLE) from exc
    except (InternalError, RateLimitError) as exc:
        _log_cause("failed", name, exc)
        raise VectorStoreUnavailable(FAILED) from exc
    except RuntimeError as exc:
        if "Event loop is closed" not in str(exc):
            raise
        # chromadb keeps one httpx client per event loop, keyed by hash(loop): a new loop that happens to
        # get a dead one's hash inherits its client. Drop it; the next call makes a fresh one.
        _drop_loop_client()
        raise VectorStoreUnavailable("Chroma's client belonged to a closed event loop; retry") from exc
    except (InvalidArgumentError, ValueError, TypeError) as exc:
        _log_cause("refused a request", name, exc)
        raise VectorRejected(REJECTED) from exc
    except ChromaError as exc:
        if "already exists" in str(exc):
            raise VectorConflict(name or "?") from exc
        _log_cause("refused a request", name, exc)
        raise VectorRejected(REJECTED) from exc
