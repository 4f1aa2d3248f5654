"""The handlers of `delete_document` and `delete_collection` jobs. The API hides the document or the
collection first (status `deleting`), so these only remove what nothing serves any more: vectors, the
kept original and parse windows, registry records. Each is idempotent: a job that runs again finds less to do."""

from orchestrator.catalog import Document
from orchestrator.clients import Clients
from orchestrator.errors import NotFound, VectorCollectionMissing
from orchestrator.ingest.saga import classify
from orchestrator.jobs import Job, JobContext
from orchestrator.vectors import where_document


class Deletion:
    def __init__(self, clients: Clients):
        self.clients = clients

    async def delete_document(self, ctx: JobContext, job: Job) -> None:
        document_id = job.document_id or job.payload["document_id"]
        try:
            document = await self.clients.registry.get_document(document_id)
        except NotFound:
            return
        await ctx.stage("delete vectors")
        await self._delete_vectors(document)
        await self._delete_blobs(document_id)
        await self.clients.registry.remove_document(document_id)
        await ctx.progress(1, 1, "documents", stage="done")

    async def _delete_blobs(self, document_id: str) -> None:
        await self.clients.blobs.delete(document_id)
        await self.clients.blobs.delete_windows(document_id)  # a cancelled ingest's, kept for a retry

    async def _delete_vectors(self, document: Document) -> None:
        try:
            collection = await self.clients.registry.get_collection(document.collection)
        except NotFound:
            return
        try:
            await self.clients.vectors.delete(collection.vector_name, where=where_document(document.id))
        except VectorCollectionMissing:
            pass
        except Exception as exc:
            raise classify(exc) from exc

    async def delete_collection(self, ctx: JobContext, job: Job) -> None:
        name = job.collection or job.payload["collection"]
        try:
            collection = await self.clients.registry.get_collection(name)
        except NotFound:
            return
        await ctx.stage("delete vectors")
        try:
            await self.clients.vectors.delete_collection(collection.vector_name)
        except Exception as exc:
            raise classify(exc) from exc
        removed = 0
        while True:
            page = await self.clients.registry.list_documents(collection=name, limit=200)
            if not page.items:
                break
            for document in page.items:
                await self._delete_blobs(document.id)
                await self.clients.registry.remove_document(document.id)
                removed += 1
            await ctx.progress(removed, None, "documents removed", stage="delete records")
        await self.clients.registry.remove_collection(name)
