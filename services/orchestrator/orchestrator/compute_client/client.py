"""HTTP client of the compute service: replicas, per-endpoint timeouts, classified retries, request ids.

One `httpx.AsyncClient` serves every replica; calls go round-robin and a retry always moves on to the next
replica. Only what another try can fix is retried, with backoff and jitter (retry.py): a connection
failure, a timeout, 429/502/503/504 (honouring `Retry-After`), but never `worker_lost` (LATER_ONLY_CODES:
the job queue retries that later). Compute's endpoints have no side effects, so a retry is always safe. Any other status is `ComputeRejected` at once, with compute's own code; retries
exhausted are `ComputeUnavailable` (the job queue retries later).
"""

import asyncio
import itertools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from contracts import (
    PARSE_CHUNK_PARAMS,
    REQUEST_ID_HEADER,
    ChunkOptions,
    ChunkRequest,
    ChunkResponse,
    EmbedKind,
    EmbedRequest,
    EmbedResponse,
    ErrorCode,
    MetadataRequest,
    MetadataResponse,
    ParseResult,
)
from orchestrator.compute_client.multipart import StreamedFile, StreamedForm
from orchestrator.compute_client.retry import (
    LATER_ONLY_CODES,
    RETRY_EXCEPTIONS,
    RETRY_STATUSES,
    CallStats,
    RetryableFailure,
    envelope_code,
    last_call_var,
    parse_retry_after,
    rejection,
    retry_now,
)
from orchestrator.errors import ComputeRejected, ComputeUnavailable

if TYPE_CHECKING:
    from orchestrator.settings import Settings

log = logging.getLogger("orchestrator.compute")

Endpoint = Literal["parse", "chunk", "embed", "metadata"]
M = TypeVar("M", bound=BaseModel)


class ComputeClient:
    def __init__(
        self,
        urls: list[str],
        *,
        token: str | None = None,
        connect_timeout_s: float = 5.0,
        parse_timeout_s: float = 600.0,
        chunk_timeout_s: float = 120.0,
        embed_timeout_s: float = 120.0,
        metadata_timeout_s: float = 120.0,
        max_attempts: int = 4,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        embed_batch_texts: int = 128,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if not urls:
            raise ValueError("ComputeClient needs at least one replica URL")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.urls = [url.rstrip("/") for url in urls]
        self.connect_timeout_s = connect_timeout_s
        self.read_timeouts_s: dict[Endpoint, float] = {
            "parse": parse_timeout_s,
            "chunk": chunk_timeout_s,
            "embed": embed_timeout_s,
            "metadata": metadata_timeout_s,
        }
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.embed_batch_texts = embed_batch_texts
        self._backoff = wait_exponential_jitter(
            initial=backoff_base_s, max=backoff_max_s, jitter=backoff_base_s
        )
        self._rotation = itertools.count()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(headers=headers, transport=transport, follow_redirects=False)

    @classmethod
    def from_settings(cls, settings: "Settings", **overrides: Any) -> "ComputeClient":
        token = settings.compute_token.get_secret_value() if settings.compute_token else None
        options: dict[str, Any] = {
            "token": token,
            "connect_timeout_s": settings.compute_connect_timeout_s,
            "parse_timeout_s": settings.compute_parse_timeout_s,
            "chunk_timeout_s": settings.compute_chunk_timeout_s,
            "embed_timeout_s": settings.compute_embed_timeout_s,
            "metadata_timeout_s": settings.compute_metadata_timeout_s,
            "max_attempts": settings.compute_max_attempts,
            "backoff_base_s": settings.compute_backoff_base_s,
            "backoff_max_s": settings.compute_backoff_max_s,
            "embed_batch_texts": settings.embed_batch_texts,
        }
        return cls(list(settings.compute_urls), **{**options, **overrides})

    @property
    def last_call(self) -> CallStats | None:
        """The calling task's last call (attempts, replicas tried, statuses, waits; None before its first):
        kept per asyncio task, so concurrent jobs do not see each other's calls."""
        return last_call_var.get()

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # --- endpoints ---

    async def parse(
        self,
        data: bytes | StreamedFile,
        filename: str,
        *,
        password: str | None = None,
        include_document: bool = False,
        window: tuple[int, int] | None = None,
        continuation: dict[str, Any] | None = None,
        chunking: ChunkOptions | None = None,
        request_id: str | None = None,
    ) -> ParseResult:
        """Parses a document given as bytes, or as a StreamedFile (read anew for each attempt, never
        whole in memory). The password, if any, goes in the form only: it is never logged. `window`
        (first page, page count) asks for those pages of a PDF only, `continuation` carrying on from the
        previous window's answer; other formats ignore it and come back whole (`window` None).
        `chunking`: an answer that covers the whole document comes chunked too
        (`chunked`; a compute that predates it leaves that None)."""
        form = {"password": password} if password else {}
        params: dict[str, str] = {"include_document": "true"} if include_document else {}
        if chunking is not None:
            options = chunking.model_dump(mode="json")  # unset options left out: compute's defaults
            params.update({PARSE_CHUNK_PARAMS[name]: str(value) for name, value in options.items()})
        if window is not None:
            params.update(first_page=str(window[0]), page_count=str(window[1]))
            if continuation is not None:
                form["continuation"] = json.dumps(continuation, separators=(",", ":"))
        if isinstance(data, StreamedFile):
            body = StreamedForm(data, filename, form)
            response = await self._call("parse", "/parse", request_id, streamed=body, params=params or None)
        else:
            files = {"file": (filename or "document", data, "application/octet-stream")}
            response = await self._call(
                "parse", "/parse", request_id, files=files, data=form or None, params=params or None
            )
        return self._decode(response, ParseResult)

    async def chunk(self, req: ChunkRequest, *, request_id: str | None = None) -> ChunkResponse:
        response = await self._call(
            "chunk", "/chunk", request_id, content=req.model_dump_json(exclude_none=True)
        )
        return self._decode(response, ChunkResponse)

    async def embed(
        self,
        texts: list[str],
        *,
        kind: EmbedKind | str = EmbedKind.passage,
        model: str | None = None,
        normalize: bool = True,
        request_id: str | None = None,
    ) -> EmbedResponse:
        body = EmbedRequest(texts=texts, model=model, kind=EmbedKind(kind), normalize=normalize)
        response = await self._call(
            "embed", "/embed", request_id, content=body.model_dump_json(exclude_none=True)
        )
        return self._decode(response, EmbedResponse)

    async def embed_batches(
        self,
        texts: Sequence[str],
        *,
        kind: EmbedKind | str = EmbedKind.passage,
        model: str | None = None,
        batch_texts: int | None = None,
        request_id: str | None = None,
    ) -> AsyncIterator[tuple[int, EmbedResponse]]:
        """Embeds any number of texts in requests of `batch_texts` (default: embed_batch_texts), one after
        another, yielding (offset of the batch's first text, its response) as each one arrives, so that a
        caller can store and report each batch before the next is asked for."""
        size = batch_texts or self.embed_batch_texts
        for start in range(0, len(texts), size):
            part = list(texts[start : start + size])
            yield start, await self.embed(part, kind=kind, model=model, request_id=request_id)

    async def extract_metadata(
        self, req: MetadataRequest, *, request_id: str | None = None
    ) -> MetadataResponse:
        response = await self._call(
            "metadata", "/extract-metadata", request_id, content=req.model_dump_json(exclude_none=True)
        )
        return self._decode(response, MetadataResponse)

    async def ready(self) -> bool:
        """True when at least one replica answers /readyz with 200 (one try each, no retries)."""
        return any((await self.replicas_ready()).values())

    async def replicas_ready(self) -> dict[str, bool]:
        async def probe(url: str) -> bool:
            try:
                response = await self._http.get(url + "/readyz", timeout=self.connect_timeout_s)
            except httpx.HTTPError:
                return False
            return response.status_code == 200

        results = await asyncio.gather(*(probe(url) for url in self.urls))
        return dict(zip(self.urls, results, strict=True))

    # --- the retry loop ---

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableFailure) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self.backoff_max_s)
        return self._backoff(state)

    def _retrying(self, call: CallStats) -> AsyncRetrying:
        """The retry loop of one call: retryable failures only, backoff (or Retry-After) between them."""

        async def before_sleep(state: RetryCallState) -> None:
            wait_s = state.next_action.sleep if state.next_action else 0.0
            call.waits_s.append(wait_s)
            log.warning(
                "compute %s request_id=%s attempt %d on %s failed (%s); retrying in %.2f s",
                call.path,
                call.request_id,
                call.attempts,
                call.replicas[-1],
                call.outcomes[-1],
                wait_s,
            )

        return AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(retry_now),
            before_sleep=before_sleep,
            reraise=True,
        )

    async def _call(
        self, endpoint: Endpoint, path: str, request_id: str | None, **request: Any
    ) -> httpx.Response:
        request_id = request_id or uuid.uuid4().hex
        call = CallStats(path=path, request_id=request_id)
        last_call_var.set(call)
        timeout = httpx.Timeout(
            self.read_timeouts_s[endpoint], connect=self.connect_timeout_s, pool=self.connect_timeout_s
        )
        start = next(self._rotation)
        retrying = self._retrying(call)
        try:
            async for attempt in retrying:
                with attempt:
                    replica = self.urls[(start + call.attempts) % len(self.urls)]
                    response = await self._attempt(call, replica, path, timeout, request)
        except RetryableFailure as exc:
            log.error(
                "compute %s request_id=%s failed after %d attempts: %s", path, request_id, call.attempts, exc
            )
            raise ComputeUnavailable(  # the replicas' addresses are in the log line above, not here
                f"compute {path} failed after {call.attempts} attempts on {len(set(call.replicas))} "
                f"replica(s); last: {exc.summary}",
                call.attempts,
                request_id=request_id,
                last_status=exc.status,
            ) from exc
        log.debug(
            "compute %s request_id=%s -> %d after %d attempt(s)",
            path,
            request_id,
            response.status_code,
            call.attempts,
        )
        if response.is_success:
            return response
        log.warning(
            "compute %s request_id=%s rejected: %d %s",
            path,
            request_id,
            response.status_code,
            response.text[:300],
        )
        raise rejection(response, call.attempts, request_id)

    async def _attempt(
        self, call: CallStats, replica: str, path: str, timeout: httpx.Timeout, request: dict[str, Any]
    ) -> httpx.Response:
        call.attempts += 1
        call.replicas.append(replica)
        headers = {REQUEST_ID_HEADER: call.request_id}
        if "content" in request:
            headers["Content-Type"] = "application/json"
        if isinstance(streamed := request.get("streamed"), StreamedForm):
            headers.update(streamed.headers)
            request = {**{k: v for k, v in request.items() if k != "streamed"}, "content": streamed.chunks()}
        try:
            response = await self._http.post(replica + path, headers=headers, timeout=timeout, **request)
        except RETRY_EXCEPTIONS as exc:
            call.outcomes.append(type(exc).__name__)
            raise RetryableFailure(
                f"{type(exc).__name__} from {replica}: {exc}", summary=type(exc).__name__
            ) from exc
        call.outcomes.append(str(response.status_code))
        call.status = response.status_code
        if response.status_code in RETRY_STATUSES:
            code, _ = envelope_code(response)
            named = f" {code.value}" if code else ""
            raise RetryableFailure(
                f"{response.status_code}{named} from {replica}",
                summary=f"{response.status_code}{named}",
                status=response.status_code,
                retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
                retry_now=code not in LATER_ONLY_CODES,
            )
        return response

    def _decode(self, response: httpx.Response, model: type[M]) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            # A replica of another version, or a broken proxy: retrying elsewhere would not be safer.
            call = self.last_call
            log.error(
                "compute %s request_id=%s answered an unreadable body: %s",
                response.request.url,
                call.request_id if call else "",
                exc,
            )
            raise ComputeRejected(
                ErrorCode.internal,
                f"compute answered {response.request.url.path} with a body this orchestrator cannot read",
                response.status_code,
                attempts=call.attempts if call else 1,
                request_id=call.request_id if call else "",
            ) from exc
