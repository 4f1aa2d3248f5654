"""The ingestion saga, the handler of `ingest` and `reingest` jobs, every step idempotent: begin (a
generation of this attempt's own) → parse (a PDF a window of pages at a time, ingest.windows) → metadata
→ chunk → embed and upsert `{document_id}:{generation}:{index}` → ONE transaction commits the generation
(refused once the document or its collection is being deleted, or the lease is lost) → older generations'
vectors deleted. A final error or a cancel deletes this attempt's generation; a previous one stays
searchable. See docs/architecture.md#the-ingestion-saga-and-its-invariants.
"""

import logging
from contextlib import aclosing
from typing import Any

import orchestrator.ingest.passwords as passwords
from contracts import (
    Chunk,
    ChunkOptions,
    ChunkRequest,
    ChunkStrategy,
    EmbedResponse,
    MetadataRequest,
    ParseResult,
)
from contracts.errors import ErrorCode
from orchestrator.catalog import (
    BlobMissing,
    Collection,
    Document,
    DocumentError,
    DocumentStatus,
    Superseded,
    generations,
)
from orchestrator.catalog.generations import MetadataMoved
from orchestrator.clients import Clients
from orchestrator.compute_client import StreamedFile
from orchestrator.core.ids import now_ms
from orchestrator.errors import JobCancelled, JobError, LeaseLost, NotFound
from orchestrator.ingest.metadata import sync_vector_metadata
from orchestrator.ingest.windows import Parsed, WindowedParse
from orchestrator.jobs import Job, JobContext, as_job_error
from orchestrator.settings import Settings
from orchestrator.vectors import chunk_metadata, vector_id, where_document

log = logging.getLogger(__name__)

# What a document keeps of compute's /extract-metadata answer.
EXTRACTED_FIELDS = {"title", "language", "keywords", "summary", "word_count", "mode", "fallback_reason"}
CANCELLED = DocumentError(code="cancelled", message="the job was cancelled")
COMMIT_TRIES = 5  # patches landing during the commit's metadata write, one after another


def classify(exc: Exception) -> JobError:
    """Any failure of a step as a JobError that says whether retrying can help (the compute client's and
    the vector store's errors already are: ComputeRejected permanent with compute's code, the
    *Unavailable ones retryable)."""
    if isinstance(exc, BlobMissing):
        return JobError(ErrorCode.not_found, str(exc), retryable=False)
    return as_job_error(exc)


def resolve_chunking(settings: Settings, job: Job, collection: Collection) -> ChunkOptions:
    """The job's chunking options, else the collection's defaults, else the service's: the strategy is
    always set, max_tokens may stay None (what the embedding model reads)."""
    service = ChunkOptions(
        strategy=settings.default_chunk_strategy, max_tokens=settings.default_chunk_max_tokens
    )
    asked = ChunkOptions.model_validate(job.payload.get("chunking") or {})
    return asked.over(collection.chunking).over(service)


def indexable(chunks: list[Chunk], strategy: ChunkStrategy) -> list[Chunk]:
    """The chunks to embed: the leaves of a hierarchy, and none without text."""
    if strategy is ChunkStrategy.hierarchical and chunks:
        leaf_level = max(c.level for c in chunks)
        chunks = [c for c in chunks if c.level == leaf_level]
    chunks = [c for c in chunks if c.text.strip()]
    if not chunks:
        raise JobError(ErrorCode.empty_document, "the document has no text to index")
    return chunks


def chunk_request(parsed: ParseResult, chunking: ChunkOptions) -> ChunkRequest:
    """What /chunk reads of a parse: every strategy reads the text, the sections or the DoclingDocument,
    none the markdown, which is as long as the text: left out, the request is a third smaller."""
    document = parsed.model_copy(update={"markdown": "", "chunked": None})
    return ChunkRequest(document=document, **chunking.model_dump())


class Ingestion:
    """One attempt of an ingest job: `run` is the handler; the steps below it run in order."""

    def __init__(self, clients: Clients):
        self.clients = clients

    async def run(self, ctx: JobContext, job: Job) -> None:
        document_id = job.document_id or job.payload["document_id"]
        try:
            begun = await generations.begin(self.clients.redis, document_id, job.id, ctx.lease.fence_guard())
        except (Superseded, NotFound) as exc:
            log.info("job %s: nothing to ingest (%s)", job.id, exc)
            raise JobCancelled(job.id) from exc
        document, generation = begun.document, begun.generation
        collection = await self.clients.registry.get_collection(document.collection)
        attempt = _Attempt(self.clients, ctx, job, document, collection, generation)
        if not begun.committed:
            await attempt.build_or_roll_back()
            await attempt.windows.drop()
        else:  # an earlier attempt committed, and stopped before its clean-up
            await attempt.windows.drop(unseen=True)
        if not self.clients.settings.keep_originals:
            await attempt.drop_original()
        if generation > 1:  # generation 1 is the document's first: there is nothing older to drop
            await attempt.drop_old_generations()


class _Attempt:
    """The saga's steps for one document at one generation."""

    def __init__(
        self,
        clients: Clients,
        ctx: JobContext,
        job: Job,
        document: Document,
        collection: Collection,
        generation: int,
    ):
        self.clients, self.ctx, self.job = clients, ctx, job
        self.document, self.collection, self.generation = document, collection, generation
        self.chroma = collection.vector_name
        self.fence = ctx.lease.fence_guard()
        # The searchable generation when this attempt began: generations between it and this attempt's
        # were started by earlier attempts of this job that can never commit now.
        self.searchable = document.generation
        settings = clients.settings
        self.windows = WindowedParse(
            clients.compute,
            clients.blobs,
            document_id=document.id,
            job_id=job.id,
            window_pages=settings.parse_window_pages,
            total_s_per_page=settings.parse_s_per_page,
            min_total_s=settings.compute_parse_timeout_s,
        )

    async def build_or_roll_back(self) -> None:
        try:
            await self.build()
        except LeaseLost:
            raise  # another worker runs the job now: its vectors are its own
        except JobCancelled:
            await self.roll_back(DocumentStatus.cancelled, CANCELLED)
            await self.windows.drop()
            raise
        except Exception as exc:
            error = classify(exc)
            last = (
                error.poison
                or not error.retryable
                or self.ctx.attempt >= self.clients.settings.max_deliveries
            )
            if last:
                await self.roll_back(
                    DocumentStatus.failed, DocumentError(code=str(error.code), message=error.message)
                )
                await self.windows.drop()
            if error is exc:
                raise
            raise error from exc

    async def build(self) -> None:
        # Resolved here, inside the roll-back: options a job cannot use fail it like any other step.
        chunking = resolve_chunking(self.clients.settings, self.job, self.collection)
        if self.generation - self.searchable > 1:  # earlier attempts of this job left theirs
            await self._delete_unready(below=self.generation)
        parsed = await self.parse(chunking)
        extracted = await self.extract_metadata(parsed.result)
        chunks = await self.chunk(parsed, chunking)
        await self.embed_and_store(chunks)
        await self.commit(parsed.result, len(chunks), extracted)

    async def parse(self, chunking: ChunkOptions) -> Parsed:
        """The original goes to compute as a stream from the blob store (once per window of a PDF), with
        the job's password if the upload gave one (never logged; the queue deletes it when the job ends).
        Progress advances in pages as windows finish."""
        ctx, document_id = self.ctx, self.document.id
        await ctx.progress(0, None, "pages", stage="parse")  # (each report is a cancel check too)
        if not await self.clients.blobs.exists(document_id):
            raise BlobMissing(f"the original of document {document_id} is not kept")
        password = await passwords.read(self.clients.redis, self.job.id)

        async def on_window(pages_done: int, pages: int) -> None:
            await ctx.progress(pages_done, pages, "pages", stage="parse")

        parsed = await self.windows.run(
            StreamedFile(lambda: self.clients.blobs.open(document_id), self.document.size_bytes),
            self.document.filename,
            password=password,
            include_document=chunking.strategy is ChunkStrategy.docling_hybrid,
            on_window=on_window,
            resume=ctx.attempt > 1,
            chunking=chunking,  # a document parsed in one answer comes chunked with it
        )
        return parsed

    async def extract_metadata(self, parsed: ParseResult) -> dict[str, Any] | None:
        if not self.collection.extract_metadata:
            return None
        await self.ctx.stage("metadata")
        found = await self.clients.compute.extract_metadata(
            MetadataRequest(document=parsed.model_copy(update={"chunked": None})), request_id=self.job.id
        )
        await self.ctx.check_cancelled()
        return found.model_dump(include=EXTRACTED_FIELDS, exclude_none=True)

    async def chunk(self, parsed: Parsed, chunking: ChunkOptions) -> list[Chunk]:
        strategy = chunking.strategy
        if parsed.result.chunked is not None and parsed.result.chunked.strategy is strategy:
            chunks = parsed.result.chunked.chunks  # compute chunked it with the parse
        elif strategy is ChunkStrategy.docling_hybrid and len(parsed.windows) > 1:
            # Its chunker reads the DoclingDocument, which comes one per window: chunked window by window.
            chunks = await self._chunk_windows(parsed, chunking)
        else:
            chunked = await self.clients.compute.chunk(
                chunk_request(parsed.result, chunking), request_id=self.job.id
            )
            chunks = chunked.chunks
        chunks = indexable(chunks, strategy)
        await self.ctx.progress(len(chunks), len(chunks), "chunks", stage="chunk")
        return chunks

    async def _chunk_windows(self, parsed: Parsed, chunking: ChunkOptions) -> list[Chunk]:
        """Each window's chunks, numbered on and with offsets into the merged text."""
        out: list[Chunk] = []
        for window, offset in zip(parsed.windows, parsed.text_offsets, strict=True):
            if not window.text.strip():
                continue
            chunked = await self.clients.compute.chunk(
                chunk_request(window, chunking), request_id=self.job.id
            )
            base = len(out)
            out.extend(
                c.model_copy(
                    update={
                        "index": base + c.index,
                        "char_start": offset + c.char_start,
                        "char_end": offset + c.char_end,
                        "parent_index": None if c.parent_index is None else base + c.parent_index,
                    }
                )
                for c in chunked.chunks
            )
        return out

    async def embed_and_store(self, chunks: list[Chunk]) -> None:
        """Each batch is upserted as soon as it is embedded, so progress counts stored chunks."""
        ctx, total, ingested_at_ms = self.ctx, len(chunks), now_ms()
        await ctx.progress(0, total, "chunks embedded", stage="embed")
        batches = self.clients.compute.embed_batches(
            [c.text for c in chunks],
            kind="passage",
            model=self.collection.embedding_model,
            request_id=self.job.id,
        )
        async with aclosing(batches):  # an error mid-way closes the generator: no request is left behind
            async for start, embedded in batches:
                await ctx.check_cancelled()  # an attempt that lost its lease stops writing at once
                await self._store_batch(
                    chunks[start : start + len(embedded.embeddings)], embedded, ingested_at_ms
                )
                await ctx.progress(start + len(embedded.embeddings), total, "chunks embedded", stage="embed")

    async def _store_batch(self, batch: list[Chunk], embedded: EmbedResponse, ingested_at_ms: int) -> None:
        if self.collection.dim is not None and embedded.dim != self.collection.dim:
            raise JobError(
                ErrorCode.unknown_model,
                f"compute embeds with dimension {embedded.dim}, the collection holds {self.collection.dim}",
            )
        await self.clients.vectors.upsert(
            self.chroma,
            ids=[vector_id(self.document.id, self.generation, c.index) for c in batch],
            embeddings=embedded.embeddings,
            documents=[c.text for c in batch],
            metadatas=[self._metadata(c, ingested_at_ms) for c in batch],
        )

    def _metadata(self, chunk: Chunk, ingested_at_ms: int) -> dict[str, Any]:
        return chunk_metadata(
            chunk,
            document_id=self.document.id,
            generation=self.generation,
            filename=self.document.filename,
            collection=self.collection.name,
            metadata=self.document.metadata,
            ingested_at_ms=ingested_at_ms,
        )

    async def commit(self, parsed: ParseResult, chunk_count: int, extracted: dict[str, Any] | None) -> None:
        """Makes the generation searchable with the registry's metadata on its vectors: they carry the
        snapshot read at begin, so a patch that landed since is written onto them first, and a patch that
        lands during that write refuses the commit (MetadataMoved) and is written too."""
        await self.ctx.stage("commit")
        on_vectors = self.document.metadata
        for _ in range(COMMIT_TRIES):
            try:
                current = await self.clients.registry.get_document(self.document.id)
            except NotFound as exc:  # deleted meanwhile
                raise JobCancelled(self.job.id) from exc
            if current.metadata != on_vectors:
                on_vectors = await sync_vector_metadata(
                    self.clients, self.document.id, generation=self.generation
                )
                if on_vectors is None:  # deleted meanwhile: the commit below says so
                    on_vectors = current.metadata
            try:
                await self._commit_ready(parsed, chunk_count, extracted, on_vectors)
                return
            except MetadataMoved:
                continue
        raise JobError(
            ErrorCode.conflict, "the document's metadata kept changing during its commit", retryable=True
        )

    async def _commit_ready(
        self,
        parsed: ParseResult,
        chunk_count: int,
        extracted: dict[str, Any] | None,
        metadata: dict[str, Any],
    ) -> None:
        try:
            await generations.commit_ready(
                self.clients.redis,
                self.document.id,
                self.job.id,
                self.generation,
                chunk_count=chunk_count,
                pages=parsed.pages,
                format=parsed.format,
                extracted=extracted,
                metadata=metadata,
                fence=self.fence,
            )
        except (Superseded, NotFound) as exc:
            log.info(
                "job %s: document %s moved on (%s); dropping generation %d",
                self.job.id,
                self.document.id,
                exc,
                self.generation,
            )
            raise JobCancelled(self.job.id) from exc

    async def drop_original(self) -> None:
        """ORCH_KEEP_ORIGINALS=false: the original goes once its document is ready (a re-ingest is then
        refused). Best effort: a failure leaves it for the document's delete."""
        try:
            await self.clients.blobs.delete(self.document.id)
        except Exception as exc:
            log.warning("document %s: its original stays for now (%s)", self.document.id, exc)

    async def roll_back(self, status: DocumentStatus, error: DocumentError) -> None:
        """Deletes this attempt's generation and what earlier attempts of the job left (best effort: the
        reconciler removes what is left), and marks the document failed or cancelled, unless it was
        deleted or taken over meanwhile, or this attempt lost its lease."""
        await self._delete_unready(below=self.generation + 1)
        await generations.finish_unready(
            self.clients.redis,
            self.document.id,
            self.job.id,
            status,
            error,
            generation=self.generation,
            fence=self.fence,
        )

    async def _delete_unready(self, *, below: int) -> None:
        """Deletes the generations above the one searchable when this attempt began, and below `below`
        (at most this attempt's own + 1): none of them can become searchable any more."""
        where = where_document(self.document.id, above=self.searchable, below=below)
        try:
            await self.clients.vectors.delete(self.chroma, where=where)
        except Exception as exc:  # Chroma away: these vectors are not searchable anyway (generation check)
            log.warning("document %s: unready generations stay for now (%s)", self.document.id, exc)

    async def drop_old_generations(self) -> None:
        """After the commit: every generation below this one goes (never a newer one: a re-ingest may
        have begun and be writing its own by now)."""
        try:
            await self.clients.vectors.delete(
                self.chroma, where=where_document(self.document.id, below=self.generation)
            )
        except Exception as exc:  # searches already skip them; the reconciler removes them later
            log.warning(
                "document %s: old generations stay until the reconciler runs (%s)", self.document.id, exc
            )
