"""A PDF parsed in windows of pages by the real compute service: the merged windows chunk exactly as one
parse of the whole document, finished windows are kept in the blob store, and a parse that failed midway
resumes after the last window kept."""

from pathlib import Path

import httpx
import pytest

from contracts import ChunkRequest, ChunkStrategy, ParseResult, Section
from orchestrator.catalog import BlobStore
from orchestrator.compute_client import ComputeClient, StreamedFile
from orchestrator.errors import ComputeUnavailable
from orchestrator.ingest.windows import WindowedParse, merge
from tests.support import documents

PAGES = 60
WINDOW = 7


def test_merge_joins_texts_and_a_section_that_runs_on():
    a = ParseResult(
        format="pdf",
        pages=4,
        markdown="# A\n\none",
        text="A\n\none",
        sections=[Section(heading_path=["A"], page=1, text="one")],
        warnings=["w"],
        window={"first_page": 1, "last_page": 2},
    )
    b = ParseResult(
        format="pdf",
        pages=4,
        markdown="two\n\n## B\n\nthree",
        text="two\n\nB\n\nthree",
        sections=[
            Section(heading_path=["A"], page=3, text="two"),
            Section(heading_path=["A", "B"], page=3, text="three"),
        ],
        warnings=["w", "x"],
        pages_without_text=[4],
        window={"first_page": 3, "last_page": 4},
        continues_section=True,
    )
    parsed = merge([a, b])
    assert parsed.result.text == "A\n\none\n\ntwo\n\nB\n\nthree"
    assert parsed.result.markdown == "# A\n\none\n\ntwo\n\n## B\n\nthree"
    assert [(s.heading_path, s.page, s.text) for s in parsed.result.sections] == [
        (["A"], 1, "one\n\ntwo"),
        (["A", "B"], 3, "three"),
    ]
    assert parsed.result.warnings == ["w", "x"] and parsed.result.pages_without_text == [4]
    assert parsed.result.window is None and parsed.result.pages == 4
    assert parsed.text_offsets == [0, len("A\n\none\n\n")]
    assert parsed.result.text[parsed.text_offsets[1] :] == b.text


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> bytes:
    return documents.book_pdf(tmp_path_factory.mktemp("book") / "manual.pdf", PAGES).read_bytes()


class FailAtPage(httpx.AsyncBaseTransport):
    """compute's transport, failing (connection refused) every /parse request of the window that starts
    at `page`, and noting the first page of every /parse request."""

    def __init__(self, page: int | None = None):
        self.page = page
        self.first_pages: list[int] = []
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/parse":
            first = int(request.url.params.get("first_page", "0"))
            self.first_pages.append(first)
            if first == self.page:
                raise httpx.ConnectError("refused", request=request)
        return await self.inner.handle_async_request(request)


def client(compute_url: str, compute_token: str, transport: httpx.AsyncBaseTransport) -> ComputeClient:
    return ComputeClient([compute_url], token=compute_token, max_attempts=1, transport=transport)


def file_of(data: bytes) -> StreamedFile:
    async def open_stream():
        async def chunks():
            yield data

        return chunks()

    return StreamedFile(open_stream, len(data))


def windowed(compute: ComputeClient, blobs: BlobStore) -> WindowedParse:
    return WindowedParse(
        compute,
        blobs,
        document_id="doc1",
        job_id="job1",
        window_pages=WINDOW,
        total_s_per_page=10,
        min_total_s=60,
    )


async def _run(parse: WindowedParse, data: bytes, progress: list[tuple[int, int]], resume: bool):
    async def on_window(done: int, total: int) -> None:
        progress.append((done, total))

    return await parse.run(
        file_of(data), "manual.pdf", password=None, include_document=False, on_window=on_window, resume=resume
    )


@pytest.mark.parametrize(
    "strategy", [ChunkStrategy.markdown, ChunkStrategy.hierarchical, ChunkStrategy.sentence]
)
async def test_windowed_chunks_read_as_the_whole_parse(compute_url, compute_token, book, tmp_path, strategy):
    async with client(compute_url, compute_token, FailAtPage()) as compute:
        whole = await compute.parse(book, "manual.pdf")
        progress: list[tuple[int, int]] = []
        parsed = await _run(windowed(compute, BlobStore(str(tmp_path))), book, progress, resume=False)
        assert len(parsed.windows) == -(-PAGES // WINDOW)
        assert progress == [(min(p, PAGES), PAGES) for p in range(WINDOW, PAGES + WINDOW, WINDOW)]
        assert parsed.result.text == whole.text and parsed.result.markdown == whole.markdown
        assert parsed.result.sections == whole.sections
        one = await compute.chunk(ChunkRequest(document=whole, strategy=strategy))
        merged = await compute.chunk(ChunkRequest(document=parsed.result, strategy=strategy))
    assert len(one.chunks) > PAGES // 2
    assert [(c.text, c.heading_path, c.pages, c.char_start) for c in merged.chunks] == [
        (c.text, c.heading_path, c.pages, c.char_start) for c in one.chunks
    ]
    if strategy is ChunkStrategy.markdown:  # headings open at a window's start carry on into it
        assert any(len(c.heading_path) == 2 for c in merged.chunks)


async def test_a_failed_parse_resumes_after_the_last_window_kept(compute_url, compute_token, book, tmp_path):
    blobs = BlobStore(str(tmp_path))
    failing = FailAtPage(page=2 * WINDOW + 1)
    async with client(compute_url, compute_token, failing) as compute:
        with pytest.raises(ComputeUnavailable):
            await _run(windowed(compute, blobs), book, [], resume=False)
    assert failing.first_pages == [1, WINDOW + 1, 2 * WINDOW + 1]
    assert len(await blobs.windows("doc1", "job1")) == 2

    healthy = FailAtPage()
    progress: list[tuple[int, int]] = []
    async with client(compute_url, compute_token, healthy) as compute:
        parse = windowed(compute, blobs)
        parsed = await _run(parse, book, progress, resume=True)
        whole = await compute.parse(book, "manual.pdf")
    # Pages 1-14 were not parsed again: the first request of the retry starts at page 15.
    assert healthy.first_pages[0] == 2 * WINDOW + 1
    assert progress[0] == (2 * WINDOW, PAGES) and progress[-1] == (PAGES, PAGES)
    assert parsed.result.text == whole.text and parsed.result.sections == whole.sections
    await parse.drop()
    assert await blobs.windows("doc1", "job1") == []


async def test_a_kept_window_that_does_not_read_back_is_parsed_again(
    compute_url, compute_token, book, tmp_path
):
    blobs = BlobStore(str(tmp_path))
    async with client(compute_url, compute_token, FailAtPage(page=2 * WINDOW + 1)) as compute:
        with pytest.raises(ComputeUnavailable):
            await _run(windowed(compute, blobs), book, [], resume=False)
    second = Path(tmp_path) / "windows" / "doc1" / "job1" / "000001"
    second.write_bytes(b"{torn")
    healthy = FailAtPage()
    async with client(compute_url, compute_token, healthy) as compute:
        parsed = await _run(windowed(compute, blobs), book, [], resume=True)
    assert healthy.first_pages[0] == WINDOW + 1
    assert len(parsed.windows) == -(-PAGES // WINDOW)
