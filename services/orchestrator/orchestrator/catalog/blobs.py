"""Original document bytes in a blob store, never in Redis: a local directory or an S3-compatible bucket
(obstore serves both), chosen by ORCH_BLOB_URL. Bytes go in and come out as streams, never whole.

Beside the originals it keeps a PDF's finished parse windows until their job ends (a retry resumes from
them), and stages each upload under a name of its own until it is accepted (`commit`), so a refused or
interrupted upload leaves no original behind (`sweep_staged` finds a dead process's). See
docs/architecture.md#redis.
"""

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import obstore
import obstore.exceptions
from obstore.store import LocalStore, ObjectStore, from_url

from orchestrator.errors import OrchErrorCode, OrchestratorError

STAGING = "staging/"
ORIGINALS = "originals/"
WINDOWS = "windows/"
# The most a writer holds before it flushes (S3's smallest multipart part), and a read's chunk size.
PART_BYTES = 5 * 1024 * 1024
READ_CHUNK_BYTES = 1024 * 1024
# Parts in flight per upload to S3: bounds an upload's memory to a few parts.
MAX_PART_CONCURRENCY = 2
# A staged upload untouched this long belongs to a process that died mid-upload (a live one writes a part
# every few seconds even on a slow link): the reconciler sweeps it.
STAGED_ABANDONED_S = 3600


class BlobMissing(Exception):
    """The bytes are gone: never kept (ORCH_KEEP_ORIGINALS=false), or the document was removed."""


class BlobStoreUnavailable(OrchestratorError):
    """The store failed (a full disk, permissions, an object store away): retryable, answered 503."""

    code = OrchErrorCode.blob_store_unavailable
    retryable = True


@contextmanager
def _io(what: str) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:  # each caller decides what missing means
        raise
    except obstore.exceptions.NotFoundError as exc:  # an object store's "missing", as the local one says it
        raise FileNotFoundError(str(exc)) from exc
    except (obstore.exceptions.BaseError, OSError) as exc:
        raise BlobStoreUnavailable(f"the blob store could not {what}: {type(exc).__name__}") from exc


def local_root(url: str) -> Path | None:
    """The directory of a local store's URL; None for an object store."""
    if "://" not in url:
        return Path(url).resolve()
    if url.startswith("file://"):
        return Path(url.removeprefix("file://")).resolve()
    return None


def open_store(url: str) -> ObjectStore:
    """A plain path (relative to the working directory) or file:// URL: a local directory, created if
    missing. Anything else (s3://bucket/prefix): obstore's store for the URL, whose credentials, region
    and endpoint come from the standard AWS_* environment variables."""
    if "://" not in url:
        return LocalStore(Path(url).resolve(), mkdir=True)
    if url.startswith("file://"):
        return LocalStore.from_url(url, mkdir=True)
    return from_url(url)


def _original(document_id: str) -> str:
    return ORIGINALS + document_id


def _windows(document_id: str, job_id: str | None = None) -> str:
    return f"{WINDOWS}{document_id}/" + (f"{job_id}/" if job_id else "")


class StagedBlob:
    """One upload being written under a staging name: `write` its chunks in order, then
    BlobStore.commit or BlobStore.discard it."""

    def __init__(self, store: ObjectStore):
        self.name = f"{STAGING}{uuid.uuid4().hex}"
        self.size_bytes = 0
        self._store = store
        self._writer = obstore.open_writer_async(
            store, self.name, buffer_size=PART_BYTES, max_concurrency=MAX_PART_CONCURRENCY
        )
        self._closed = False
        self.committed = False  # it became a document's original

    async def write(self, chunk: bytes) -> None:
        if chunk:
            with _io("write an upload"):
                await self._writer.write(chunk)
            self.size_bytes += len(chunk)

    async def close(self) -> None:
        """Completes the object (a no-op the second time)."""
        if not self._closed:
            self._closed = True
            with _io("complete an upload"):
                await self._writer.close()


class BlobStore:
    """Originals by document id: put a stream, open one for reading, check, delete. The store itself is
    opened on first use, so building a BlobStore does no I/O."""

    def __init__(self, url: str | ObjectStore):
        self._url = url if isinstance(url, str) else None
        self._store = url if not isinstance(url, str) else None

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            assert self._url is not None
            with _io("open its directory or bucket"):
                self._store = open_store(self._url)
        return self._store

    def stage(self) -> StagedBlob:
        with _io("start an upload"):
            return StagedBlob(self.store)

    async def commit(self, staged: StagedBlob, document_id: str) -> None:
        """Makes a staged upload the document's original (replacing an older one)."""
        await staged.close()
        with _io("keep an upload"):
            await obstore.rename_async(self.store, staged.name, _original(document_id))
        staged.committed = True

    async def discard(self, staged: StagedBlob) -> None:
        """Removes what a staged upload wrote, unless it was committed (then this is a no-op)."""
        if staged.committed:
            return
        if not staged._closed:
            staged._closed = True
            # An unclosed writer aborts its object when dropped: nothing was written under its name.
            del staged._writer
            return
        await self._remove(staged.name)

    async def put(self, document_id: str, chunks: AsyncIterable[bytes]) -> int:
        """Stores a stream as the document's original; returns its size in bytes."""
        staged = self.stage()
        try:
            async for chunk in chunks:
                await staged.write(chunk)
            await self.commit(staged, document_id)
        except BaseException:
            await self.discard(staged)
            raise
        return staged.size_bytes

    async def open(self, document_id: str) -> AsyncIterator[bytes]:
        """The original as a stream of chunks; BlobMissing at once (before any chunk) when it is gone."""
        try:
            with _io("read an original"):
                result = await obstore.get_async(self.store, _original(document_id))
        except FileNotFoundError:
            raise BlobMissing(f"the original of document {document_id} is not kept") from None
        return aiter(result.stream(min_chunk_size=READ_CHUNK_BYTES))

    async def exists(self, document_id: str) -> bool:
        try:
            with _io("look for an original"):
                await obstore.head_async(self.store, _original(document_id))
        except FileNotFoundError:
            return False
        return True

    async def delete(self, document_id: str) -> None:
        """Removes the document's original; nothing to remove is fine."""
        await self._remove(_original(document_id))

    # --- finished windows of a parse (small JSON objects, read and written whole) ---

    async def put_window(self, document_id: str, job_id: str, index: int, data: bytes) -> None:
        with _io("keep a parsed window"):
            await obstore.put_async(self.store, f"{_windows(document_id, job_id)}{index:06d}", data)

    async def windows(self, document_id: str, job_id: str) -> list[bytes]:
        """The job's kept windows of the document, in order."""
        out = []
        for name in sorted(await self._names(_windows(document_id, job_id))):
            try:
                with _io("read a parsed window"):
                    out.append(bytes(await (await obstore.get_async(self.store, name)).bytes_async()))
            except FileNotFoundError:  # dropped meanwhile (the job ended elsewhere): what is left is no run
                break
        return out

    async def delete_windows(self, document_id: str, job_id: str | None = None) -> int:
        """Removes the job's kept windows of the document (every job's, when None); returns how many."""
        names = await self._names(_windows(document_id, job_id))
        for name in names:
            await self._remove(name)
        root = local_root(self._url) if self._url else None
        if root is not None:  # a directory store keeps the emptied directories: they go too
            await asyncio.to_thread(_remove_empty_dirs, root / _windows(document_id, job_id), root / WINDOWS)
        return len(names)

    async def _names(self, prefix: str) -> list[str]:
        with _io("list parsed windows"):
            return [meta["path"] async for batch in obstore.list(self.store, prefix=prefix) for meta in batch]

    async def window_owners(self) -> AsyncIterator[tuple[str, str]]:
        """(document id, job id) of every kept run of windows, for the reconciler."""
        runs: set[tuple[str, str]] = set()
        with _io("list parsed windows"):
            async for batch in obstore.list(self.store, prefix=WINDOWS):
                for meta in batch:
                    parts = meta["path"].removeprefix(WINDOWS).split("/")
                    if len(parts) == 3:
                        runs.add((parts[0], parts[1]))
        for run in sorted(runs):
            yield run

    async def sweep_staged(self, older_than_s: float) -> int:
        """Removes staged uploads older than `older_than_s` (left by a process that died mid-upload);
        returns how many."""
        root = local_root(self._url) if self._url else None
        if root is not None:
            return await asyncio.to_thread(_sweep_local, root / STAGING, older_than_s)
        # Object stores: an unfinished multipart upload is invisible here; a bucket lifecycle rule for
        # incomplete multipart uploads removes those.
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
        removed = 0
        async for batch in obstore.list(self.store, prefix=STAGING):
            for meta in batch:
                if meta["last_modified"] < cutoff:
                    await self._remove(meta["path"])
                    removed += 1
        return removed

    async def originals(self) -> AsyncIterator[list[tuple[str, float]]]:
        """Pages of (document id, age in seconds) of every kept original, for the reconciler."""
        now = datetime.now(UTC)
        with _io("list the originals"):
            async for batch in obstore.list(self.store, prefix=ORIGINALS):
                yield [
                    (meta["path"].removeprefix(ORIGINALS), (now - meta["last_modified"]).total_seconds())
                    for meta in batch
                ]

    async def _remove(self, name: str) -> None:
        try:
            with _io("remove an object"):
                await obstore.delete_async(self.store, name)
        except FileNotFoundError:
            pass


def _remove_empty_dirs(start: Path, stop: Path) -> None:
    """Removes the empty directories in and under `start`, then its parents up to (not including)
    `stop` while they are empty; a directory still holding files stays."""
    for directory, _, _ in sorted(os.walk(start), key=lambda entry: -len(entry[0])):  # deepest first
        with contextlib.suppress(OSError):
            os.rmdir(directory)
    for directory in start.parents:
        if directory == stop or stop not in directory.parents:
            return
        try:
            directory.rmdir()
        except OSError:  # another job's windows, or gone already
            return


def _sweep_local(staging: Path, older_than_s: float) -> int:
    """A local store writes an unfinished object as `name#N` beside its name, and obstore's listing
    skips those: the directory itself is what a crash leaves behind."""
    cutoff = time.time() - older_than_s
    removed = 0
    try:
        entries = list(os.scandir(staging))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:  # another process swept it first
            continue
    return removed
