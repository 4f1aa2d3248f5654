"""Bytes to ParseResult with Docling. Runs inside the parse worker process, never in the API process.

Failures are raised as ParseFailure(code, message) with the contract's codes; anything else that
escapes is a bug and is reported as corrupt_document by the worker loop.
"""

import io
import logging
import re
import time
import zipfile
from dataclasses import dataclass

import pypdfium2 as pdfium
from docling.backend import csv_backend
from docling.datamodel.backend_options import ThreadedDoclingParseBackendOptions
from docling.datamodel.base_models import ConversionStatus, DocumentStream, InputFormat
from docling.datamodel.pipeline_options import NativePdfPipelineOptions, PdfPipelineOptions
from docling.document_converter import DocumentConverter, FormatOption, NativePdfFormatOption, PdfFormatOption
from docling_core.types.doc import DocItemLabel, DoclingDocument
from pydantic import SecretStr

import compute.parsing.ocr as ocr
import compute.parsing.office as office
import compute.parsing.pdf_structure as pdf_structure
import compute.parsing.plain as plain
import compute.parsing.result as result
from compute import formats
from compute.parsing.limits import Limits
from compute.parsing.windows import Continuation, Window

log = logging.getLogger("compute.parse")

_EXT = {
    formats.PDF: "pdf",
    formats.DOCX: "docx",
    formats.PPTX: "pptx",
    formats.XLSX: "xlsx",
    formats.HTML: "html",
    formats.MD: "md",
    formats.CSV: "csv",
    formats.ASCIIDOC: "asciidoc",
}


# Docling guesses a CSV's dialect with csv.Sniffer over the file's whole first line, and the sniffer's
# quote pattern is quadratic (seconds per few tens of KB of `,"a`): it gets the first SAMPLE_LINE_CHARS
# of the line. A cut line that no longer parses sends Docling to its own 4 KiB sample instead.
_docling_sniff = csv_backend._sniff_dialect  # a private name: tests/compute/parsing checks it is there


def _bounded_sniff(head: str, read_sample):  # read_sample: Callable[[], str]
    return _docling_sniff(head[: formats.SAMPLE_LINE_CHARS], read_sample)


csv_backend._sniff_dialect = _bounded_sniff


class ParseFailure(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Converter:
    """Holds Docling converters built once per worker process (building them costs seconds)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._converter = self._build(password=None)

    def _pdf_option(self, password: str | None) -> FormatOption:
        if self.limits.artifacts_path:
            opts = PdfPipelineOptions(
                artifacts_path=self.limits.artifacts_path, do_ocr=False, generate_page_images=False
            )
            backend_opts = (
                ThreadedDoclingParseBackendOptions(password=SecretStr(password)) if password else None
            )
            return PdfFormatOption(pipeline_options=opts, backend_options=backend_opts)
        opts = NativePdfPipelineOptions(
            generate_page_images=False,
            generate_picture_images=False,
            parser_threads=self.limits.parse_threads,
        )
        option = NativePdfFormatOption(
            pipeline_options=opts, pipeline_cls=pdf_structure.FontRecordingPdfPipeline
        )
        if password:
            option.backend_options.password = SecretStr(password)  # type: ignore[union-attr]
        return option

    def _build(self, password: str | None) -> DocumentConverter:
        allowed = [InputFormat(e) for e in _EXT.values()]
        return DocumentConverter(
            allowed_formats=allowed, format_options={InputFormat.PDF: self._pdf_option(password)}
        )

    @property
    def pdf_pipeline_name(self) -> str:
        return "standard" if self.limits.artifacts_path else "native"

    def convert(
        self,
        data: bytes,
        filename: str | None,
        password: str | None,
        *,
        window: Window | None = None,
        continuation: Continuation | None = None,
        include_document: bool = False,
    ) -> dict:
        """The ParseResult fields (and the DoclingDocument when `include_document`). A `window` of a PDF
        parses only its pages, carrying on from the previous window's `continuation`; other formats are
        always parsed whole."""
        started = time.perf_counter()
        if not data:
            raise ParseFailure("empty_document", "the file is empty")
        try:
            fmt = formats.detect(data, filename)
        except formats.Encrypted as exc:
            raise ParseFailure("encrypted_document", str(exc)) from exc
        except formats.Unsupported as exc:
            raise ParseFailure("unsupported_format", str(exc)) from exc

        if fmt == formats.PDF:
            parsed, doc = self._pdf(data, password, window, continuation)
        elif fmt == formats.TEXT:  # a large one: a small one never leaves the API process (plain.py)
            parsed = plain.parse_result(data)
            doc = _plain_text_document(parsed["text"]) if include_document else None
            return {"result": parsed, "document": doc.export_to_dict() if doc else None}
        else:
            if fmt in (formats.DOCX, formats.PPTX, formats.XLSX):
                data = self._checked_office(data, fmt)
            if fmt in (formats.HTML, formats.CSV, formats.MD, formats.ASCIIDOC):
                data = _to_utf8(data, fmt)
            doc, warnings, _ = self._docling(data, fmt, password)
            parsed, _ = result.to_parse_result(doc, fmt)
            parsed.update(pipeline="docling", warnings=warnings)
        if not parsed["text"].strip():
            parsed["warnings"].append("no text extracted")
        parsed["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return {"result": parsed, "document": doc.export_to_dict() if include_document else None}

    def _pdf(
        self, data: bytes, password: str | None, window: Window | None, continuation: Continuation | None
    ) -> tuple[dict, DoclingDocument]:
        info = _open_pdf(data, password, self.limits.max_pages)
        if window is None:
            if info.page_count > self.limits.max_window_pages:
                raise ParseFailure(
                    "too_large",
                    f"the PDF has {info.page_count} pages; one request parses at most "
                    f"{self.limits.max_window_pages}: ask for windows of pages (first_page, page_count)",
                )
            first, last = 1, info.page_count
        else:
            if window.first_page > info.page_count:
                raise ParseFailure(
                    "invalid_request",
                    f"first_page {window.first_page} is past the PDF's {info.page_count} pages",
                )
            first, last = window.pages(info.page_count)
        doc, warnings, fonts = self._docling(data, formats.PDF, password, pages=(first, last))
        style = (
            pdf_structure.Style(continuation.body, dict(continuation.levels))
            if continuation and continuation.body
            else None
        )
        if self.pdf_pipeline_name == "native":
            doc, style = pdf_structure.restructure(doc, fonts, info.toc, style)
        without_text = _pages_without_text(doc, first, last)
        ocr_left = min(
            continuation.ocr_pages_left if continuation else self.limits.ocr_max_pages,
            self.limits.ocr_max_pages,
        )
        if without_text and self.limits.ocr and ocr_left:
            read = ocr.ocr_pages(data, password, without_text, doc, ocr_left, self.limits.parse_threads)
            ocr_left -= read.tried
            if read.recovered:
                warnings.append(f"ocr applied to pages {read.recovered}")
            without_text = [p for p in without_text if p not in read.recovered]
        if without_text:
            warnings.append(f"no text layer on pages {without_text}")
        carried = (
            result.Outline([(lvl, text) for lvl, text in continuation.headings], continuation.section_open)
            if continuation
            else None
        )
        parsed, outline = result.to_parse_result(doc, formats.PDF, pages=info.page_count, outline=carried)
        parsed.update(pipeline=self.pdf_pipeline_name, warnings=warnings, pages_without_text=without_text)
        if continuation and continuation.headings:
            result.carry_headings(doc, list(continuation.headings))
        if window is not None:
            parsed["window"] = {"first_page": first, "last_page": last}
            # No style: the standard pipeline (its layout model reads headings), or no text seen yet.
            parsed["continuation"] = Continuation(
                body=style.body if style else None,
                levels=style.levels if style else {},
                headings=outline.headings,
                section_open=outline.section_open,
                ocr_pages_left=ocr_left,
            ).model_dump(mode="json")
        return parsed, doc

    def _checked_office(self, data: bytes, fmt: str) -> bytes:
        limits = office.ArchiveLimits(
            self.limits.zip_member_max_bytes, self.limits.zip_total_max_bytes, self.limits.zip_max_members
        )
        try:
            office.check(data, limits)
            return office.strip_docx_xml_comments(data) if fmt == formats.DOCX else data
        except office.ArchiveTooLarge as exc:
            raise ParseFailure("too_large", str(exc)) from exc
        except (office.ArchiveDamaged, KeyError, zipfile.BadZipFile) as exc:
            raise ParseFailure("corrupt_document", f"damaged {fmt} container: {short_reason(exc)}") from exc

    @staticmethod
    def _pipeline_fonts(converter: DocumentConverter) -> list[tuple[int, str, str]]:
        for pipeline in converter.initialized_pipelines.values():
            if isinstance(pipeline, pdf_structure.FontRecordingPdfPipeline):
                return pipeline.line_fonts
        return []

    def _docling(
        self, data: bytes, fmt: str, password: str | None, pages: tuple[int, int] | None = None
    ) -> tuple[DoclingDocument, list[str], list]:
        """Docling's conversion (of `pages` only, first and last, for a PDF); also returns the PDF line
        fonts the native pipeline recorded."""
        # A password is rare: a one-off converter carries it rather than a cache of them.
        converter = self._build(password) if password and fmt == formats.PDF else self._converter
        stream = DocumentStream(name=f"document.{_EXT[fmt]}", stream=io.BytesIO(data))
        options = {"page_range": pages} if pages else {}
        try:
            conv = converter.convert(
                stream, raises_on_error=False, max_num_pages=self.limits.max_pages, **options
            )
        except Exception as exc:  # docling raises many types for broken input
            raise ParseFailure("corrupt_document", f"{fmt} could not be read: {short_reason(exc)}") from exc
        warnings = [short_reason(e.error_message) for e in conv.errors][:20]
        if (
            conv.status not in (ConversionStatus.SUCCESS, ConversionStatus.PARTIAL_SUCCESS)
            or conv.document is None
        ):
            detail = "; ".join(warnings) or conv.status.value
            raise ParseFailure("corrupt_document", f"{fmt} could not be converted: {detail}")
        return conv.document, warnings, self._pipeline_fonts(converter)


@dataclass
class PdfInfo:
    page_count: int
    toc: list[tuple[int, int, str]]  # (level, page_no, title)


def _open_pdf(data: bytes, password: str | None, max_pages: int) -> PdfInfo:
    try:
        pdf = pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        text = str(exc).lower()
        if "password" in text:
            what = "wrong password for" if password else "a password is needed to open"
            raise ParseFailure("encrypted_document", f"{what} this PDF") from exc
        raise ParseFailure("corrupt_document", f"the PDF could not be opened: {short_reason(exc)}") from exc
    try:
        count = len(pdf)
        if count == 0:
            raise ParseFailure("corrupt_document", "the PDF has no pages")
        if count > max_pages:
            raise ParseFailure("too_large", f"the PDF has {count} pages; the limit is {max_pages}")
        toc: list[tuple[int, int, str]] = []
        try:
            for item in pdf.get_toc(max_depth=8):
                if item.page_index is not None and item.title:
                    toc.append((item.level + 1, item.page_index + 1, item.title))
        except Exception:  # a broken outline is no reason to fail the document
            toc = []
        return PdfInfo(page_count=count, toc=toc)
    finally:
        pdf.close()


def _pages_without_text(doc: DoclingDocument, first: int, last: int) -> list[int]:
    with_text = {item.prov[0].page_no for item in doc.texts if item.prov and item.text.strip()}
    return [p for p in range(first, last + 1) if p not in with_text]


def _to_utf8(data: bytes, fmt: str) -> bytes:
    """Docling's text backends expect UTF-8; UTF-16 and legacy encodings are transcoded first."""
    text = plain.decode(data)
    if fmt == formats.HTML:
        # A charset declared in the page would now be wrong and would make the HTML parser misread it.
        text = re.sub(r"(charset\s*=\s*[\"']?)[\w-]+", r"\1utf-8", text, count=2, flags=re.IGNORECASE)
    return text.encode("utf-8")


def _plain_text_document(text: str) -> DoclingDocument:
    """The DoclingDocument of a plain text (for the docling_hybrid chunker): one item per paragraph."""
    doc = DoclingDocument(name="document")
    for para in plain.paragraphs(text):
        doc.add_text(label=DocItemLabel.TEXT, text=para)
    return doc


# A file system path of two or more parts (the worker's temporary copy of the upload, a library's own
# files): answers go to clients, who have no use for this host's layout. Linear: `/` ends each part.
_PATH = re.compile(r"(?:/[^\s/'\":,;]+){2,}")


def short_reason(exc: object, limit: int = 300) -> str:
    """An exception's first line, cut to `limit`, with file system paths masked: fit for an answer."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _PATH.sub("<path>", text[: limit * 2])[:limit]
