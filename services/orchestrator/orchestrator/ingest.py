"""Job handlers: the ingestion saga, document and collection deletion, and the reconciler as a job.

Ingest (and re-ingest), every step idempotent:
  begin (document `processing`, the job's generation chosen; retries reuse it) → load the bytes → parse →
  chunk → embed in batches → upsert ids `{document_id}:{generation}:{index}` → ONE transaction marks the
  document `ready` at that generation (refused if it or its collection is being deleted) → older
  generations' vectors deleted.
On a permanent error, the last retry, or a cancel: this generation's vectors are deleted and the document
is `failed`/`cancelled` with the error; its previous generation, if any, stays searchable (doc_state).
"""

import logging

from contracts import ChunkRequest, ChunkStrategy, MetadataRequest
from contracts.errors import ErrorCode
from orchestrator import blobs, chunk_meta, doc_state
from orchestrator.context import JobContext
from orchestrator.errors import JobCancelled, JobError, LeaseLost, NotFound, VectorCollectionMissing
from orchestrator.handlers import Handlers
from orchestrator.outcomes import as_job_error
from orchestrator.records import Collection, Document, DocumentError, DocumentStatus, Job, JobType, now_ms
from orchestrator.reconciler import Reconciler
from orchestrator.services import Services
from orchestrator.settings import Settings
from orchestrator.vectors import vector_id

log = logging.getLogger(__name__)


# What a document keeps of compute's /extract-metadata answer.
EXTRACTED_FIELDS = {"title", "language", "keywords", "summary", "word_count", "mode", "fallback_reason"}


def classify(exc: Exception) -> JobError:
    """Any failure of a step as a JobError that says whether retrying can help (the compute client's and
    the vector store's errors already are: ComputeRejected permanent with compute's code, the
    *Unavailable ones retryable)."""
    if isinstance(exc, blobs.BlobMissing):
        return JobError(ErrorCode.not_found, str(exc), retryable=False)
    return as_job_error(exc)


def chunk_options(settings: Settings, job: Job, collection: Collection) -> tuple[ChunkStrategy, int | None]:
    """The job's chunking options, else the collection's defaults, else the service's."""
    chosen = {**collection.chunking, **(job.payload.get("chunking") or {})}
    strategy = ChunkStrategy(chosen.get("strategy") or settings.default_chunk_strategy)
    max_tokens = chosen.get("max_tokens") or settings.default_chunk_max_tokens
    return strategy, max_tokens


class Ingestion:
    def __init__(self, services: Services):
        self.s = services
        self.batch_texts = services.settings.embed_batch_texts

    async def ingest(self, ctx: JobContext, job: Job) -> None:
        document_id = job.document_id or job.payload["document_id"]
        try:
            begun = await doc_state.begin(self.s.redis, document_id, job.id)
        except (doc_state.Superseded, NotFound) as exc:
            log.info("job %s: nothing to ingest (%s)", job.id, exc)
            raise JobCancelled(job.id) from exc
        document, generation = begun.document, begun.generation
        collection = await self.s.registry.get_collection(document.collection)
        chroma = collection.chroma_name or collection.name
        if not begun.committed:
            try:
                await self._build(ctx, job, document, collection, chroma, generation, begun.reused)
            except LeaseLost:
                raise  # another worker runs the job now: its vectors are its own
            except JobCancelled:
                await self._roll_back(
                    document,
                    chroma,
                    generation,
                    DocumentStatus.cancelled,
                    job,
                    DocumentError(code="cancelled", message="the job was cancelled"),
                )
                raise
            except Exception as exc:
                error = classify(exc)
                if error.poison or not error.retryable or ctx.attempt >= self.s.settings.max_deliveries:
                    await self._roll_back(
                        document,
                        chroma,
                        generation,
                        DocumentStatus.failed,
                        job,
                        DocumentError(code=str(error.code), message=error.message),
                    )
                if error is exc:
                    raise
                raise error from exc
        if generation > 1:  # generation 1 is the document's first: there is nothing older to drop
            await self._drop_old_generations(chroma, document_id, generation)

    async def _build(
        self,
        ctx: JobContext,
        job: Job,
        document: Document,
        collection: Collection,
        chroma: str,
        generation: int,
        reused: bool,
    ) -> None:
        if reused:
            # A retry of this generation: start from nothing, so no stale chunk of an earlier attempt stays.
            await self.s.vectors.delete(
                chroma, where=chunk_meta.where_document(document.id, generation=generation)
            )
        await ctx.stage("load")
        data = await blobs.get(self.s.redis, document.id)
        await ctx.check_cancelled()
        strategy, max_tokens = chunk_options(self.s.settings, job, collection)
        await ctx.progress(0, None, "pages", stage="parse")
        parsed = await self.s.compute.parse(
            data,
            document.filename,
            include_document=strategy is ChunkStrategy.docling_hybrid,
            request_id=job.id,
        )
        await ctx.progress(parsed.pages, parsed.pages, "pages", stage="parse")
        await ctx.check_cancelled()
        extracted = None
        if collection.extract_metadata:
            await ctx.stage("metadata")
            found = await self.s.compute.extract_metadata(MetadataRequest(document=parsed), request_id=job.id)
            extracted = found.model_dump(include=EXTRACTED_FIELDS, exclude_none=True)
            await ctx.check_cancelled()
        chunked = await self.s.compute.chunk(
            ChunkRequest(document=parsed, strategy=strategy, max_tokens=max_tokens), request_id=job.id
        )
        chunks = chunked.chunks
        if strategy is ChunkStrategy.hierarchical and chunks:
            leaf_level = max(c.level for c in chunks)
            chunks = [c for c in chunks if c.level == leaf_level]
        chunks = [c for c in chunks if c.text.strip()]
        if not chunks:
            raise JobError(ErrorCode.empty_document, "the document has no text to index")
        total = len(chunks)
        await ctx.progress(total, total, "chunks", stage="chunk")
        ingested_at_ms = now_ms()
        done = 0
        await ctx.progress(0, total, "chunks embedded", stage="embed")
        for start in range(0, total, self.batch_texts):
            await ctx.check_cancelled()
            batch = chunks[start : start + self.batch_texts]
            embedded = await self.s.compute.embed(
                [c.text for c in batch], kind="passage", model=collection.embedding_model, request_id=job.id
            )
            if collection.dim is not None and embedded.dim != collection.dim:
                raise JobError(
                    ErrorCode.unknown_model,
                    f"compute embeds with dimension {embedded.dim}, the collection holds {collection.dim}",
                )
            await self.s.vectors.upsert(
                chroma,
                ids=[vector_id(document.id, generation, c.index) for c in batch],
                embeddings=embedded.embeddings,
                documents=[c.text for c in batch],
                metadatas=[
                    chunk_meta.for_chunk(
                        c,
                        document_id=document.id,
                        generation=generation,
                        filename=document.filename,
                        collection=collection.name,
                        metadata=document.metadata,
                        ingested_at_ms=ingested_at_ms,
                    )
                    for c in batch
                ],
            )
            done += len(batch)
            await ctx.progress(done, total, "chunks embedded", stage="embed")
        await ctx.check_cancelled()
        await ctx.stage("commit")
        try:
            await doc_state.commit_ready(
                self.s.redis,
                document.id,
                job.id,
                generation,
                chunk_count=total,
                pages=parsed.pages,
                format=parsed.format,
                extracted=extracted,
            )
        except (doc_state.Superseded, NotFound) as exc:
            log.info(
                "job %s: document %s moved on (%s); dropping generation %d",
                job.id,
                document.id,
                exc,
                generation,
            )
            raise JobCancelled(job.id) from exc

    async def _roll_back(
        self,
        document: Document,
        chroma: str,
        generation: int,
        status: DocumentStatus,
        job: Job,
        error: DocumentError,
    ) -> None:
        """Deletes this generation's vectors (best effort: the reconciler removes what is left) and marks the
        document failed or cancelled, unless it was deleted or taken over meanwhile."""
        try:
            await self.s.vectors.delete(
                chroma, where=chunk_meta.where_document(document.id, generation=generation)
            )
        except Exception as exc:  # Chroma away: these vectors are not searchable anyway (generation check)
            log.warning("document %s: cannot delete generation %d yet (%s)", document.id, generation, exc)
        await doc_state.finish_unready(self.s.redis, document.id, job.id, status, error)

    async def _drop_old_generations(self, chroma: str, document_id: str, generation: int) -> None:
        try:
            await self.s.vectors.delete(
                chroma, where=chunk_meta.where_document(document_id, not_generation=generation)
            )
        except Exception as exc:  # searches already skip them; the reconciler removes them later
            log.warning("document %s: old generations stay until the reconciler runs (%s)", document_id, exc)

    async def delete_document(self, ctx: JobContext, job: Job) -> None:
        document_id = job.document_id or job.payload["document_id"]
        try:
            document = await self.s.registry.get_document(document_id)
        except NotFound:
            return
        await ctx.stage("delete vectors")
        await self._delete_vectors(document)
        await blobs.delete(self.s.redis, document_id)
        await self.s.registry.remove_document(document_id)
        await ctx.progress(1, 1, "documents", stage="done")

    async def _delete_vectors(self, document: Document) -> None:
        try:
            collection = await self.s.registry.get_collection(document.collection)
        except NotFound:
            return
        try:
            await self.s.vectors.delete(
                collection.chroma_name or collection.name, where=chunk_meta.where_document(document.id)
            )
        except VectorCollectionMissing:
            pass
        except Exception as exc:
            raise classify(exc) from exc

    async def delete_collection(self, ctx: JobContext, job: Job) -> None:
        name = job.collection or job.payload["collection"]
        try:
            collection = await self.s.registry.get_collection(name)
        except NotFound:
            return
        await ctx.stage("delete vectors")
        try:
            await self.s.vectors.delete_collection(collection.chroma_name or name)
        except Exception as exc:
            raise classify(exc) from exc
        removed = 0
        while True:
            page = await self.s.registry.list_documents(collection=name, limit=200)
            if not page.items:
                break
            for document in page.items:
                await blobs.delete(self.s.redis, document.id)
                await self.s.registry.remove_document(document.id)
                removed += 1
            await ctx.progress(removed, None, "documents removed", stage="delete records")
        await self.s.registry.remove_collection(name)

    async def reconcile(self, ctx: JobContext, job: Job) -> None:
        await ctx.stage("reconcile")
        report = await Reconciler(self.s).run()
        log.info("reconcile job %s: %s", job.id, report.model_dump())


def build(services: Services) -> Handlers:
    saga = Ingestion(services)
    return {
        JobType.ingest: saga.ingest,
        JobType.reingest: saga.ingest,
        JobType.delete_document: saga.delete_document,
        JobType.delete_collection: saga.delete_collection,
        JobType.reconcile: saga.reconcile,
    }


def handlers(settings: Settings, redis) -> Handlers:
    """The default ORCH_HANDLERS factory, for `python -m orchestrator worker`."""
    return build(Services.build(settings, redis))
