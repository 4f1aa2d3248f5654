"""One ChunkOptions from the upload to compute: how a job's options are resolved, and what they look like
stored (collection records, job payloads), fingerprinted (idempotency keys) and sent (/parse parameters)."""

import hashlib
import json
from types import SimpleNamespace

import pytest

from contracts import PARSE_CHUNK_PARAMS, ChunkOptions, ChunkRequest, ChunkStrategy
from orchestrator.catalog import Collection
from orchestrator.ingest.saga import resolve_chunking
from orchestrator.ingest.uploads import NewUpload
from orchestrator.jobs import Job, JobStatus, JobType
from orchestrator.settings import Settings


def _job(chunking: dict) -> Job:
    return Job(id="j1", type=JobType.ingest, status=JobStatus.queued, payload={"chunking": chunking})


@pytest.mark.parametrize(
    ("job", "collection", "expected"),
    [
        ({}, {}, ChunkOptions(strategy=ChunkStrategy.sentence, max_tokens=None)),
        ({}, {"max_tokens": 64}, ChunkOptions(strategy=ChunkStrategy.sentence, max_tokens=64)),
        (
            {"strategy": "token"},
            {"strategy": "markdown", "max_tokens": 64},
            ChunkOptions(strategy="token", max_tokens=64),
        ),
        (
            {"max_tokens": 32},
            {"strategy": "markdown", "max_tokens": 64},
            ChunkOptions(strategy="markdown", max_tokens=32),
        ),
    ],
)
def test_a_job_takes_its_own_options_then_its_collections_then_the_services(
    job: dict, collection: dict, expected: ChunkOptions
) -> None:
    settings = Settings(default_chunk_strategy="sentence")
    record = Collection(name="c1", chunking=ChunkOptions.model_validate(collection))
    assert resolve_chunking(settings, _job(job), record) == expected


def test_the_services_max_tokens_fills_in_last() -> None:
    settings = Settings(default_chunk_max_tokens=100)
    resolved = resolve_chunking(settings, _job({}), Collection(name="c1"))
    assert resolved == ChunkOptions(strategy=ChunkStrategy.markdown, max_tokens=100)


def test_a_bad_service_default_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="default_chunk_strategy"):
        Settings(default_chunk_strategy="paragraphs")


def test_unset_options_are_left_out_of_records_and_answers() -> None:
    record = Collection(name="c1")
    assert json.loads(record.to_redis()["chunking"]) == {}
    assert record.model_dump(mode="json")["chunking"] == {}
    partial = Collection(name="c1", chunking=ChunkOptions(max_tokens=64))
    assert json.loads(partial.to_redis()["chunking"]) == {"max_tokens": 64}
    assert Collection.from_redis(partial.to_redis()).chunking == ChunkOptions(max_tokens=64)


def test_an_uploads_fingerprint_is_that_of_its_options_as_json() -> None:
    """Idempotency keys stored before ChunkOptions (a plain dict then) still match a repeat of their request."""
    upload = NewUpload(
        filename="a.txt",
        staged=SimpleNamespace(),  # type: ignore[arg-type]  # the fingerprint never reads the blob
        sha256="ab" * 32,
        metadata={"k": 1},
        chunking=ChunkOptions(strategy=ChunkStrategy.token),
    )
    options = {"metadata": {"k": 1}, "chunking": {"strategy": "token"}, "on_duplicate": "reject"}
    canonical = json.dumps(options, sort_keys=True, separators=(",", ":"))
    assert upload.fingerprint == hashlib.sha256(f"{'ab' * 32}\n{canonical}".encode()).hexdigest()


def test_parse_parameters_and_chunk_requests_carry_the_same_options() -> None:
    options = ChunkOptions(strategy=ChunkStrategy.sentence, max_tokens=48)
    assert set(PARSE_CHUNK_PARAMS) == set(ChunkOptions.model_fields)
    request = ChunkRequest(text="x", **options.model_dump())
    assert (request.strategy, request.max_tokens) == (options.strategy, options.max_tokens)
    assert (
        ChunkRequest(text="x", **ChunkOptions().over(ChunkOptions(strategy="token")).model_dump()).strategy
        == "token"
    )
