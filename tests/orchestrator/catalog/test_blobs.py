"""The blob store on a real local directory (obstore's LocalStore): streams in and out, staged uploads that
leave nothing behind unless committed, deletes, and stores built from each kind of ORCH_BLOB_URL."""

import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from obstore.store import LocalStore, S3Store

from orchestrator.catalog import BlobMissing, BlobStore
from orchestrator.catalog.blobs import PART_BYTES, BlobStoreUnavailable, open_store


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def chunks_of(total_bytes: int, chunk_bytes: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, total_bytes, chunk_bytes):
        yield bytes([start % 251]) * min(chunk_bytes, total_bytes - start)


async def read_all(blobs: BlobStore, document_id: str) -> bytes:
    return b"".join([chunk async for chunk in await blobs.open(document_id)])


async def test_put_open_exists_delete(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    size = 3 * PART_BYTES + 123  # several parts: the multipart path of the writer
    assert await blobs.put("doc1", chunks_of(size)) == size
    expected = b"".join([c async for c in chunks_of(size)])
    assert await blobs.exists("doc1")
    assert await read_all(blobs, "doc1") == expected
    assert files(tmp_path) == ["originals/doc1"]
    await blobs.delete("doc1")
    await blobs.delete("doc1")  # nothing to remove is fine
    assert not await blobs.exists("doc1")
    with pytest.raises(BlobMissing):
        await blobs.open("doc1")
    assert files(tmp_path) == []


async def test_a_staged_upload_becomes_an_original_only_when_committed(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    staged = blobs.stage()
    digest = hashlib.sha256()
    async for chunk in chunks_of(PART_BYTES + 10):
        digest.update(chunk)
        await staged.write(chunk)
    assert not await blobs.exists("doc2")  # not yet the document's
    await blobs.commit(staged, "doc2")
    await blobs.discard(staged)  # after a commit: a no-op
    assert hashlib.sha256(await read_all(blobs, "doc2")).hexdigest() == digest.hexdigest()
    assert files(tmp_path) == ["originals/doc2"]


@pytest.mark.parametrize("closed", [False, True])
async def test_a_discarded_upload_leaves_nothing(tmp_path: Path, closed: bool) -> None:
    blobs = BlobStore(str(tmp_path))
    staged = blobs.stage()
    async for chunk in chunks_of(2 * PART_BYTES + 1):  # parts already flushed to disk
        await staged.write(chunk)
    if closed:
        await staged.close()
    await blobs.discard(staged)
    assert files(tmp_path) == []


async def test_put_of_a_failing_stream_leaves_nothing(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * PART_BYTES * 2
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await blobs.put("doc3", broken())
    assert files(tmp_path) == []


async def test_sweep_removes_only_old_staged_uploads(tmp_path: Path) -> None:
    blobs = BlobStore(str(tmp_path))
    old, new = blobs.stage(), blobs.stage()
    for staged in (old, new):
        await staged.write(b"bytes")
        await staged.close()
    hour_ago = time.time() - 3600
    os.utime(tmp_path / old.name, (hour_ago, hour_ago))
    await blobs.put("kept", chunks_of(10))
    assert await blobs.sweep_staged(older_than_s=600) == 1
    assert files(tmp_path) == sorted([new.name, "originals/kept"])


def test_stores_from_each_kind_of_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert isinstance(open_store("data/blobs"), LocalStore)
    assert (tmp_path / "data" / "blobs").is_dir()  # relative to the working directory, created
    assert isinstance(open_store((tmp_path / "abs").as_uri()), LocalStore)
    assert (tmp_path / "abs").is_dir()
    # S3-compatible: credentials, region and endpoint from the AWS_* variables (nothing is contacted).
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }.items():
        monkeypatch.setenv(name, value)
    store = open_store("s3://originals-bucket/prod/blobs")
    assert isinstance(store, S3Store)
    assert store.prefix == "prod/blobs"
    assert store.config["bucket"] == "originals-bucket"


def test_building_the_store_does_no_io(tmp_path: Path) -> None:
    target = tmp_path / "not-yet"
    BlobStore(str(target))
    assert not target.exists()


async def test_sweep_removes_the_partial_file_a_dead_writer_left(tmp_path: Path) -> None:
    # A local store writes an unfinished object as `name#N`; obstore's own listing does not show it.
    blobs = BlobStore(str(tmp_path))
    staging = tmp_path / "staging"
    staging.mkdir()
    partial = staging / "0123abcd#1"
    partial.write_bytes(b"x" * 1024)
    hour_ago = time.time() - 2 * 3600
    os.utime(partial, (hour_ago, hour_ago))
    assert await blobs.sweep_staged(older_than_s=3600) == 1
    assert not partial.exists()


async def test_a_failing_store_is_retryable_not_a_crash(tmp_path: Path) -> None:
    # A file where the staging directory should be: every write fails, even for root (as a full or
    # broken disk would), and the caller gets a retryable error instead of an OSError.
    blobs = BlobStore(str(tmp_path))
    (tmp_path / "staging").write_bytes(b"not a directory")
    with pytest.raises(BlobStoreUnavailable) as caught:
        await blobs.put("new", chunks_of(PART_BYTES * 2))
    assert caught.value.retryable
    assert not await blobs.exists("new")
