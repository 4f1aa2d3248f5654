"""A document parsed a window of pages at a time, and the windows merged back into one ParseResult.

compute parses at most one window of a PDF's pages per request, so its memory is bounded by the window.
Every finished window but the last is kept in the blob store, so a retry resumes after it, not at page 1;
other formats come back whole. The merge joins what one parse would have joined (texts with a blank line,
a section run on over a boundary back into one).
See docs/architecture.md#the-ingestion-saga-and-its-invariants.
"""

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from contracts import ChunkOptions, ParseResult, Section
from contracts.errors import ErrorCode
from orchestrator.catalog import BlobStore
from orchestrator.compute_client import ComputeClient, StreamedFile
from orchestrator.errors import JobError

log = logging.getLogger(__name__)

SEPARATOR = "\n\n"  # what compute puts between two items of one parse
NO_TEXT = "no text extracted"  # compute's warning for an answer without text
# (pages done, pages in all): called after each window, for the job's progress.
OnWindow = Callable[[int, int], Awaitable[None]]


@dataclass
class Parsed:
    """The whole document's ParseResult, and the windows it was merged from (one for a document that
    fits one window, or a format that has none). `text_offsets[i]` is where window i's text starts in
    `result.text`."""

    result: ParseResult
    windows: list[ParseResult] = field(default_factory=list)
    text_offsets: list[int] = field(default_factory=list)


def merge(windows: list[ParseResult]) -> Parsed:
    if len(windows) == 1:
        return Parsed(windows[0], windows, [0])
    first = windows[0]
    texts, markdowns, offsets = [], [], []
    sections: list[Section] = []
    at = 0
    for window in windows:
        start = at + (len(SEPARATOR) if texts else 0)
        offsets.append(start if window.text else at)
        if window.text:
            texts.append(window.text)
            at = start + len(window.text)
        if window.markdown:
            markdowns.append(window.markdown)
        for i, section in enumerate(window.sections):
            if i == 0 and window.continues_section and sections:
                last = sections[-1]
                sections[-1] = last.model_copy(update={"text": last.text + SEPARATOR + section.text})
            else:
                sections.append(section)
    result = first.model_copy(
        update={
            "markdown": SEPARATOR.join(markdowns),
            "text": SEPARATOR.join(texts),
            "sections": sections,
            "tables": [t for w in windows for t in w.tables],
            # A window without text says so; the document has text if any window had some.
            "warnings": list(
                dict.fromkeys(
                    w
                    for window in windows
                    for w in window.warnings
                    if w != NO_TEXT or not any(x.text.strip() for x in windows)
                )
            ),
            "pages_without_text": [p for w in windows for p in w.pages_without_text],
            "duration_ms": round(sum(w.duration_ms for w in windows), 1),
            "window": None,
            "continuation": None,
            "continues_section": False,
            "document": None,  # one per window: a chunker that needs it reads `windows`
            "chunked": None,  # no window covers the whole document, so none came chunked
        }
    )
    return Parsed(result, windows, offsets)


class WindowedParse:
    """The parse step of one ingest attempt: resumes from the job's kept windows, asks compute for the
    rest, keeps each finished one but the last, and merges them."""

    def __init__(
        self,
        compute: ComputeClient,
        blobs: BlobStore,
        *,
        document_id: str,
        job_id: str,
        window_pages: int,
        total_s_per_page: float,
        min_total_s: float,
    ):
        self.compute, self.blobs = compute, blobs
        self.document_id, self.job_id = document_id, job_id
        self.window_pages = window_pages
        self.total_s_per_page, self.min_total_s = total_s_per_page, min_total_s
        self.kept_some = False  # this attempt found or wrote kept windows: there is something to drop

    async def kept(self) -> list[ParseResult]:
        """The windows an earlier attempt of this job finished, in order (a broken one and those after
        it are parsed again)."""
        windows: list[ParseResult] = []
        for raw in await self.blobs.windows(self.document_id, self.job_id):
            try:
                window = ParseResult.model_validate_json(raw)
            except ValueError:
                log.warning("job %s: a kept window does not read back; parsing from there", self.job_id)
                break
            expected = windows[-1].window.last_page + 1 if windows and windows[-1].window else 1
            if window.window is None or window.window.first_page != expected:
                break
            windows.append(window)
        self.kept_some = self.kept_some or bool(windows)
        return windows

    async def run(
        self,
        file: StreamedFile,
        filename: str,
        *,
        password: str | None,
        include_document: bool,
        on_window: OnWindow,
        resume: bool,
        chunking: ChunkOptions | None = None,
    ) -> Parsed:
        """`resume`: an earlier attempt of the job may have kept windows (the first attempt has none to
        look for). `chunking`: a document that comes back whole in one answer comes chunked too."""
        windows = await self._resumed(on_window) if resume else []
        started = time.monotonic()
        while True:
            last = windows[-1] if windows else None
            first_page = last.window.last_page + 1 if last and last.window else 1
            answer = await self.compute.parse(
                file,
                filename,
                password=password,
                include_document=include_document,
                window=(first_page, self.window_pages),
                continuation=last.continuation if last else None,
                chunking=chunking,
                request_id=self.job_id,
            )
            if answer.window is None:  # not a PDF: it came back whole
                if windows:  # a replica of another version mid-deploy, say: another attempt may do better
                    raise JobError(
                        ErrorCode.conflict, "the document parsed in windows came back whole", retryable=True
                    )
                await on_window(answer.pages, answer.pages)
                return merge([answer])
            if answer.window.first_page != first_page:
                raise JobError(
                    ErrorCode.internal,
                    f"compute parsed from page {answer.window.first_page}, not {first_page}",
                )
            windows.append(answer)
            done = answer.window.last_page >= answer.pages
            await on_window(answer.window.last_page, answer.pages)
            if done:
                return merge(windows)
            self._check_time(started, answer.pages)
            # Not the last one: a retry of the job resumes after it.
            self.kept_some = True
            await self.blobs.put_window(
                self.document_id, self.job_id, len(windows) - 1, answer.model_dump_json().encode()
            )

    async def _resumed(self, on_window: OnWindow) -> list[ParseResult]:
        """The windows an earlier attempt kept, reported as the job's progress so far."""
        windows = await self.kept()
        if windows:
            last = windows[-1]
            log.info(
                "job %s: resuming the parse of document %s at page %d of %d",
                self.job_id,
                self.document_id,
                last.window.last_page + 1,  # type: ignore[union-attr]
                last.pages,
            )
            await on_window(last.window.last_page, last.pages)  # type: ignore[union-attr]
        return windows

    def _check_time(self, started: float, pages: int) -> None:
        cap_s = max(self.min_total_s, pages * self.total_s_per_page)
        if time.monotonic() - started > cap_s:
            raise JobError(
                ErrorCode.timeout,
                f"parsing {pages} pages took longer than {cap_s:g} s ({self.total_s_per_page:g} s a page)",
                # A retry resumes after the windows kept, with a fresh budget for the rest.
                retryable=True,
            )

    async def drop(self, *, unseen: bool = False) -> None:
        """The job is over (committed or failed for good): nothing will resume from its windows. Only
        when this attempt saw some, unless `unseen` (an attempt that did not parse: an earlier one may
        have kept some)."""
        if not (self.kept_some or unseen):
            return
        try:
            await self.blobs.delete_windows(self.document_id, self.job_id)
        except Exception as exc:  # the reconciler removes them once the job is final
            log.warning("job %s: its parse windows stay for now (%s)", self.job_id, exc)
