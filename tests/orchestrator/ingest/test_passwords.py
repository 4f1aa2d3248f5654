"""Encrypted PDFs through /api/v1 on a real stack: the upload's (or the re-ingest's) `password` opens them,
for that job only; without it the document fails with encrypted_document. The password is kept in its
own Redis key while the job runs, gone once it ends, and never part of a job, a document or an event."""

import json
import logging

import httpx
import pytest
from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.settings import Settings
from tests.support import CORPUS
from tests.support.api import API, create_collection, running_app, upload, wait_document, wait_job

ENCRYPTED = CORPUS / "awkward" / "encrypted"
PASSWORDS = {
    "pypdf_encrypted-file_pw-test.pdf": "test",
    "unstructured_password.pdf": "password",
    "docling_2206.01062_pg3_pw1234.pdf": "1234",
}

pytestmark = pytest.mark.skipif(
    not ENCRYPTED.is_dir(), reason=f"the encrypted PDFs of the shared corpus are not here ({ENCRYPTED})"
)


async def assert_secret_gone(api: httpx.AsyncClient, redis: Redis, job_id: str, password: str) -> None:
    """Nothing of the job, its events or its document carries the password; its own key is gone."""
    assert await redis.exists(keys.job_secret(job_id)) == 0
    job = (await api.get(f"{API}/jobs/{job_id}")).json()
    assert "password" not in job["payload"] and password not in json.dumps(job["payload"])
    record = await redis.hgetall(keys.job(job_id))
    assert "password" not in record and password not in record.get("payload", "")
    events = await redis.xrange(keys.job_events(job_id))
    assert all(password not in json.dumps(fields) for _, fields in events), events
    document = (await api.get(f"{API}/documents/{job['document_id']}")).json()
    assert "password" not in document  # (its filename may say "password")
    assert not [key async for key in redis.scan_iter(match=keys.job_secret("*"))]


@pytest.mark.parametrize("filename", ["pypdf_encrypted-file_pw-test.pdf", "unstructured_password.pdf"])
async def test_an_encrypted_pdf_is_ingested_with_its_password(
    api: httpx.AsyncClient, redis: Redis, filename: str
) -> None:
    await create_collection(api, "locked")
    password = PASSWORDS[filename]
    response = await upload(api, "locked", filename, (ENCRYPTED / filename).read_bytes(), password=password)
    assert response.status_code == 202, response.text
    assert "password" not in response.text
    accepted = response.json()
    document = await wait_document(api, accepted["document_id"])
    assert document["status"] == "ready", document
    assert document["chunk_count"] > 0
    assert (await wait_job(api, accepted["job_id"]))["status"] == "succeeded"
    await assert_secret_gone(api, redis, accepted["job_id"], password)


async def test_without_its_password_it_fails_and_a_reingest_with_it_succeeds(
    api: httpx.AsyncClient, redis: Redis
) -> None:
    filename = "docling_2206.01062_pg3_pw1234.pdf"
    await create_collection(api, "locked-later")
    response = await upload(api, "locked-later", filename, (ENCRYPTED / filename).read_bytes())
    assert response.status_code == 202, response.text
    document = await wait_document(api, response.json()["document_id"])
    assert document["status"] == "failed" and document["error"]["code"] == "encrypted_document", document
    # A wrong password is no better.
    wrong = await api.post(f"{API}/documents/{document['id']}/reingest", json={"password": "not-it"})
    assert wrong.status_code == 202, wrong.text
    assert (await wait_job(api, wrong.json()["job_id"]))["status"] == "failed"
    document = await wait_document(api, document["id"])
    assert document["error"]["code"] == "encrypted_document", document
    # The right one opens it, for that job only.
    right = await api.post(f"{API}/documents/{document['id']}/reingest", json={"password": "1234"})
    assert right.status_code == 202, right.text
    assert "1234" not in right.text
    assert (await wait_job(api, right.json()["job_id"]))["status"] == "succeeded"
    assert (await wait_document(api, document["id"]))["status"] == "ready"
    await assert_secret_gone(api, redis, right.json()["job_id"], "1234")
    assert await redis.exists(keys.job_secret(wrong.json()["job_id"])) == 0


async def test_the_password_waits_in_its_own_key_until_the_job_ends(
    api_settings: Settings, redis: Redis
) -> None:
    """With no worker, the job waits: its password is in its own key (with a TTL), nowhere else; a
    cancel (like every final status) deletes it."""
    filename = "pypdf_encrypted-file_pw-test.pdf"
    async with running_app(api_settings.model_copy(update={"api_workers": 0})) as (_, api):
        await create_collection(api, "locked-wait")
        data = (ENCRYPTED / filename).read_bytes()
        response = await upload(api, "locked-wait", filename, data, password="test")
        job_id = response.json()["job_id"]
        secret = keys.job_secret(job_id)
        assert await redis.get(secret) == "test"
        assert 0 < await redis.ttl(secret) <= api_settings.job_secret_ttl_s
        assert (await api.post(f"{API}/jobs/{job_id}/cancel")).status_code == 200
        assert (await wait_job(api, job_id))["status"] == "cancelled"
        await assert_secret_gone(api, redis, job_id, "test")


async def test_the_password_is_never_logged(
    api_settings: Settings, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Every log record of an upload and its job, at DEBUG, with the password nowhere in it; a refused
    (overlong) password is not echoed either."""
    filename = "pypdf_encrypted-file_pw-test.pdf"
    password = "test"  # the file's; short, so also look for a distinctive wrong one below
    wrong = "zq-not-the-password-91f3"
    caplog.set_level(logging.DEBUG)
    async with running_app(api_settings) as (_, api):
        await create_collection(api, "locked-logs")
        data = (ENCRYPTED / filename).read_bytes()
        response = await upload(api, "locked-logs", filename, data, password=password)
        assert response.status_code == 202, response.text
        assert (await wait_job(api, response.json()["job_id"]))["status"] == "succeeded"
        document_id = response.json()["document_id"]
        again = await api.post(f"{API}/documents/{document_id}/reingest", json={"password": wrong})
        assert (await wait_job(api, again.json()["job_id"]))["status"] == "failed"
        overlong = "x" * 1025
        refused = await upload(api, "locked-logs", "other.pdf", b"%PDF-1.4 other", password=overlong)
        assert refused.status_code == 422 and overlong not in refused.text, refused.text
    assert caplog.records, "nothing was logged: the check would prove nothing"
    text = "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''} {getattr(r, '__dict__', {})!r}"
        for r in caplog.records
    )
    assert wrong not in text
    assert overlong not in text
    assert f"'{password}'" not in text and f'"{password}"' not in text
