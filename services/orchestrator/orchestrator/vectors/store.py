"""The vector store: a Chroma server through `chromadb.AsyncHttpClient` (the thin `chromadb-client`).

One Chroma collection per orchestrator collection, in cosine space, its model and dimension in its
metadata. Only `create_collection` makes one: reads and writes on a missing one raise
VectorCollectionMissing. Writes are batched `upsert`s (Chroma ignores an `add` of a known id). Every call
is bounded by `timeout_s` (Chroma's client has none): Chroma down or slow is VectorStoreUnavailable. It
connects on first use, so it can be built while Chroma is down; metadata goes through `flatten_metadata`.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import chromadb
from chromadb.api import AsyncClientAPI
from chromadb.api.models.AsyncCollection import AsyncCollection
from chromadb.config import Settings as ChromaSettings

from orchestrator.core.ids import now_ms
from orchestrator.errors import (
    VectorCollectionMissing,
    VectorRejected,
    VectorStoreError,
)
from orchestrator.vectors.chroma_errors import translated as _translated
from orchestrator.vectors.chunk_records import (
    CollectionInfo,
    Hit,
    Metadata,
    VectorRecord,
    flatten_metadata,
)

if TYPE_CHECKING:
    from orchestrator.settings import Settings

log = logging.getLogger("orchestrator.vectors")

MODEL_KEY = "embedding_model"  # collection metadata: the model its vectors come from
DIM_KEY = "embedding_dim"  # collection metadata: their dimension
CREATED_KEY = "created_at_ms"  # collection metadata: when this store made it (the reconciler's age check)
SPACE = "cosine"
GET_PAGE = 1_000  # records per request when reading ids
T = TypeVar("T")


class VectorStore:
    def __init__(self, url: str, *, timeout_s: float = 30.0, headers: Mapping[str, str] | None = None):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        self.url = url
        self.timeout_s = timeout_s
        self._host = parts.hostname or "127.0.0.1"
        self._ssl = parts.scheme == "https"
        self._port = parts.port or (443 if self._ssl else 8000)
        self._headers = dict(headers or {})
        self._client: AsyncClientAPI | None = None
        self._connect_lock = asyncio.Lock()
        self._collections: dict[str, AsyncCollection] = {}
        self._max_batch: int | None = None

    @classmethod
    def from_settings(cls, settings: "Settings") -> "VectorStore":
        return cls(settings.chroma_url, timeout_s=settings.chroma_timeout_s)

    async def close(self) -> None:
        client, self._client = self._client, None
        self._collections.clear()
        if client is not None:
            # The chromadb client keeps one httpx client per event loop, shared by all its instances.
            server = getattr(client, "_server", None)
            cleanup = getattr(server, "_cleanup", None)
            if cleanup is not None:
                try:
                    await cleanup()
                except Exception:
                    log.debug("closing the Chroma client failed", exc_info=True)

    # --- connection ---

    async def _bounded(self, awaitable: Awaitable[T]) -> T:
        async with asyncio.timeout(self.timeout_s):
            return await awaitable

    async def _get_client(self) -> AsyncClientAPI:
        if self._client is not None:
            return self._client
        async with self._connect_lock:
            if self._client is None:
                with _translated():
                    self._client = await self._bounded(
                        chromadb.AsyncHttpClient(
                            host=self._host,
                            port=self._port,
                            ssl=self._ssl,
                            headers=self._headers or None,
                            settings=ChromaSettings(anonymized_telemetry=False),
                        )
                    )
        return self._client

    async def _collection(self, name: str, *, fresh: bool = False) -> AsyncCollection:
        cached = None if fresh else self._collections.get(name)
        if cached is not None:
            return cached
        self._collections.pop(name, None)
        client = await self._get_client()
        with _translated(name):
            collection = await self._bounded(client.get_collection(name, embedding_function=None))
        self._collections[name] = collection
        return collection

    async def _on_collection(self, name: str, op: Callable[[AsyncCollection], Awaitable[T]]) -> T:
        """Runs op on the named collection. A cached handle may point at a collection deleted and created
        again under the same name: on NotFound it is fetched once more before the name counts as missing."""
        for fresh in (False, True):
            collection = await self._collection(name, fresh=fresh)
            try:
                with _translated(name):
                    return await self._bounded(op(collection))
            except VectorCollectionMissing:
                self._collections.pop(name, None)
                if fresh:
                    raise
        raise AssertionError("unreachable")

    async def heartbeat(self) -> bool:
        """True when Chroma answers; never raises."""
        try:
            client = await self._get_client()
            with _translated():
                await self._bounded(client.heartbeat())
        except VectorStoreError:
            return False
        return True

    async def max_batch_size(self) -> int:
        """The server's max records per write (fetched once, then cached)."""
        if self._max_batch is None:
            client = await self._get_client()
            with _translated():
                size = await self._bounded(client.get_max_batch_size())
            self._max_batch = size if size > 0 else 1_000
        return self._max_batch

    # --- collections ---

    async def create_collection(
        self, chroma_name: str, *, dim: int, model: str, metadata: Metadata | None = None
    ) -> None:
        """Creates it in cosine space with its model and dimension recorded; VectorConflict if it exists."""
        if dim < 1:
            raise ValueError("dim must be positive")
        client = await self._get_client()
        recorded = {**flatten_metadata(metadata), MODEL_KEY: model, DIM_KEY: dim, CREATED_KEY: now_ms()}
        with _translated(chroma_name):
            collection = await self._bounded(
                client.create_collection(
                    chroma_name,
                    configuration={"hnsw": {"space": SPACE}},
                    metadata=recorded,
                    embedding_function=None,
                )
            )
        self._collections[chroma_name] = collection

    async def exists(self, chroma_name: str) -> bool:
        """Whether it exists now, asked of the server (a read: it never creates anything)."""
        try:
            await self._collection(chroma_name, fresh=True)
        except VectorCollectionMissing:
            return False
        return True

    async def describe(self, chroma_name: str, *, fresh: bool = False) -> CollectionInfo:
        collection = await self._collection(chroma_name, fresh=fresh)
        meta = dict(collection.metadata or {})
        config = getattr(collection, "configuration_json", None) or {}
        space = (config.get("hnsw") or {}).get("space") or meta.get("hnsw:space")
        model, dim, created = meta.get(MODEL_KEY), meta.get(DIM_KEY), meta.get(CREATED_KEY)
        return CollectionInfo(
            chroma_name,
            str(model) if model is not None else None,
            int(dim) if dim is not None else None,
            space,
            meta,
            int(created) if created is not None else None,
        )

    async def delete_collection(self, chroma_name: str) -> None:
        """Deletes it with all its vectors; a missing one is fine (idempotent)."""
        client = await self._get_client()
        self._collections.pop(chroma_name, None)
        try:
            with _translated(chroma_name):
                await self._bounded(client.delete_collection(chroma_name))
        except VectorCollectionMissing:
            pass

    async def list_collection_names(self) -> list[str]:
        client = await self._get_client()
        names: list[str] = []
        with _translated():
            while True:
                page = await self._bounded(client.list_collections(limit=100, offset=len(names)))
                names.extend(collection.name for collection in page)
                if len(page) < 100:
                    return names

    # --- records ---

    async def upsert(
        self,
        chroma_name: str,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        documents: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        """Inserts or replaces records by id, in batches under the server's limit (idempotent: safe to retry).
        Every vector must have the collection's dimension; metadata goes through flatten_metadata."""
        if not (len(ids) == len(embeddings) == len(documents) == len(metadatas)):
            raise ValueError("ids, embeddings, documents and metadatas must have the same length")
        if not ids:
            return
        dims = {len(vector) for vector in embeddings}
        info = await self.describe(chroma_name)
        if info.dim is not None and dims != {info.dim}:  # the name may hold a new collection: ask again
            info = await self.describe(chroma_name, fresh=True)
        if len(dims) > 1 or (info.dim is not None and dims != {info.dim}):
            raise VectorRejected(
                f"vectors of dimension {sorted(dims)} for collection {chroma_name!r}, which holds "
                f"{info.dim}-dimensional vectors of {info.model}"
            )
        flat = [flatten_metadata(metadata) or None for metadata in metadatas]  # Chroma refuses {}, takes None
        batch = await self.max_batch_size()
        for start in range(0, len(ids), batch):
            end = start + batch
            await self._on_collection(
                chroma_name,
                lambda c, s=start, e=end: c.upsert(
                    ids=list(ids[s:e]),
                    embeddings=[list(v) for v in embeddings[s:e]],
                    documents=list(documents[s:e]),
                    metadatas=flat[s:e],
                ),
            )

    async def update_metadata(
        self, chroma_name: str, ids: Sequence[str], metadatas: Sequence[Metadata]
    ) -> None:
        """Merges each metadata into its record's: keys not given are kept, a key set to None is removed."""
        if len(ids) != len(metadatas):
            raise ValueError("ids and metadatas must have the same length")
        if not ids:
            return
        flat = [flatten_metadata(metadata, keep_none=True) or None for metadata in metadatas]
        batch = await self.max_batch_size()
        for start in range(0, len(ids), batch):
            end = start + batch
            await self._on_collection(
                chroma_name, lambda c, s=start, e=end: c.update(ids=list(ids[s:e]), metadatas=flat[s:e])
            )

    async def delete(
        self, chroma_name: str, *, ids: Sequence[str] | None = None, where: Mapping[str, Any] | None = None
    ) -> None:
        """Deletes records by ids, by a where filter, or both (their intersection). Deleting nothing at
        all needs an explicit empty `ids`; with neither given it refuses (it would not delete everything)."""
        if ids is None and not where:
            raise ValueError("delete needs ids or a where filter")
        if ids is not None and not ids:
            return
        if ids is None:
            await self._on_collection(chroma_name, lambda c: c.delete(where=dict(where or {})))
            return
        batch = await self.max_batch_size()
        for start in range(0, len(ids), batch):
            part = list(ids[start : start + batch])
            await self._on_collection(
                chroma_name, lambda c, p=part: c.delete(ids=p, where=dict(where) if where else None)
            )

    async def count(self, chroma_name: str) -> int:
        return await self._on_collection(chroma_name, lambda c: c.count())

    async def get(
        self,
        chroma_name: str,
        *,
        where: Mapping[str, Any] | None = None,
        ids: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[VectorRecord]:
        """Records (id, text, metadata as stored) matching ids and/or where; `limit`/`offset` page them."""
        result = await self._on_collection(
            chroma_name,
            lambda c: c.get(
                ids=list(ids) if ids is not None else None,
                where=dict(where) if where else None,
                limit=limit,
                offset=offset,
                include=["documents", "metadatas"],
            ),
        )
        documents = result.get("documents") or [""] * len(result["ids"])
        metadatas = result.get("metadatas") or [None] * len(result["ids"])
        return [
            VectorRecord(id=i, text=d or "", metadata=dict(m or {}))
            for i, d, m in zip(result["ids"], documents, metadatas, strict=True)
        ]

    async def ids_where(self, chroma_name: str, where: Mapping[str, Any] | None = None) -> list[str]:
        """Every id matching where (all ids with None), read in pages."""
        found: list[str] = []
        while True:
            result = await self._on_collection(
                chroma_name,
                lambda c: c.get(
                    where=dict(where) if where else None, limit=GET_PAGE, offset=len(found), include=[]
                ),
            )
            found.extend(result["ids"])
            if len(result["ids"]) < GET_PAGE:
                return found

    async def query(
        self,
        chroma_name: str,
        embedding: Sequence[float],
        *,
        top_k: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[Hit]:
        """The top_k nearest records, best first, scored 1 - cosine distance."""
        if top_k < 1:
            return []
        result = await self._on_collection(
            chroma_name,
            lambda c: c.query(
                query_embeddings=[list(embedding)],
                n_results=top_k,
                where=dict(where) if where else None,
                include=["documents", "metadatas", "distances"],
            ),
        )
        ids = result["ids"][0]
        documents = (result.get("documents") or [[""] * len(ids)])[0]
        metadatas = (result.get("metadatas") or [[None] * len(ids)])[0]
        distances = (result.get("distances") or [[1.0] * len(ids)])[0]
        return [
            Hit(id=i, text=d or "", metadata=dict(m or {}), score=1.0 - float(dist), distance=float(dist))
            for i, d, m, dist in zip(ids, documents, metadatas, distances, strict=True)
        ]
