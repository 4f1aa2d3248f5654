"""A document streamed to compute's /parse (StreamedFile): the real service reads the form (with its
Content-Length, a filename that needs quoting, and a password field), and a retry opens the stream again."""

from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from orchestrator.compute_client import ComputeClient, StreamedFile
from orchestrator.compute_client.multipart import StreamedForm
from orchestrator.settings import Settings
from tests.support import CORPUS

MARKDOWN = b"# Otters\n\n## Habits\n\nSea otters hold hands while they sleep so they do not drift apart.\n"


def streamed(data: bytes, opened: list[int], chunk_bytes: int = 7) -> StreamedFile:
    async def open_stream() -> AsyncIterator[bytes]:
        opened.append(1)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(data), chunk_bytes):
                yield data[start : start + chunk_bytes]

        return chunks()

    return StreamedFile(open_stream, len(data))


async def test_the_form_is_what_its_headers_say() -> None:
    form = StreamedForm(streamed(MARKDOWN, []), 'we"ird\r\nname.md', {"password": "s3cret"})
    body = b"".join([chunk async for chunk in form.chunks()])
    assert int(form.headers["Content-Length"]) == len(body)
    assert b'filename="we%22irdname.md"' in body and MARKDOWN in body
    assert body.count(b"s3cret") == 1


async def test_a_streamed_parse_against_the_real_service_retries_with_a_fresh_stream(
    compute_url: str, compute_token: str
) -> None:
    settings = Settings(compute_urls=compute_url, compute_token=compute_token, compute_backoff_base_s=0.01)
    opened: list[int] = []
    answers: list[int] = []

    async def flaky(request: httpx.Request):
        if not answers:
            await request.aread()  # the first attempt's stream is used up: a retry must open another
            answers.append(503)
            return httpx.Response(503, headers={"Retry-After": "0"})
        answers.append(200)
        return request  # to the real service

    async with ComputeClient.from_settings(settings) as client:
        with respx.mock(assert_all_called=False) as mock:
            mock.post(f"{compute_url}/parse").mock(side_effect=flaky)
            mock.route().pass_through()
            result = await client.parse(streamed(MARKDOWN, opened), "otters.md", password="unused")
    assert result.format == "md" and "hold hands" in result.text
    assert answers[:2] == [503, 200]
    assert client.last_call is not None and client.last_call.attempts == 2
    assert len(opened) == 2


async def test_an_encrypted_pdf_streamed_with_its_password(compute_url: str, compute_token: str) -> None:
    path = CORPUS / "awkward" / "encrypted" / "pypdf_encrypted-file_pw-test.pdf"
    if not path.is_file():
        pytest.skip(f"the shared corpus is not here ({path})")
    opened: list[int] = []
    settings = Settings(compute_urls=compute_url, compute_token=compute_token)
    async with ComputeClient.from_settings(settings) as client:
        result = await client.parse(streamed(path.read_bytes(), opened, 4096), path.name, password="test")
    assert result.format == "pdf" and result.text.strip()
    assert opened == [1]
