"""Format detection from the bytes themselves, never from a client's file name or content type.

The text family is told apart on a bounded sample (SAMPLE_BYTES, SAMPLE_LINES lines of at most
SAMPLE_LINE_CHARS), with linear-time checks only, so detection costs the same on any file.
"""

import codecs
import csv
import io
import zipfile

# Formats the service accepts, as Docling's InputFormat values plus the plain-text family.
PDF, DOCX, PPTX, XLSX, HTML, MD, CSV, ASCIIDOC, TEXT = (
    "pdf",
    "docx",
    "pptx",
    "xlsx",
    "html",
    "md",
    "csv",
    "asciidoc",
    "text",
)

SAMPLE_BYTES = 64 * 1024  # the prefix a text file is judged by
SAMPLE_LINES = 200
SAMPLE_LINE_CHARS = 4096  # a longer line is cut (and is no CSV row)
CSV_LINES = 50
_CSV_DELIMITERS = ",;|\t"
_PDF_HEADER_BYTES = 1024  # the header may follow a little junk; readers accept that
_OOXML_MAIN = {
    "word/document.xml": DOCX,
    "ppt/presentation.xml": PPTX,
    "xl/workbook.xml": XLSX,
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_ENCRYPTED = b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e"  # UTF-16


class Unsupported(ValueError):
    pass


class Encrypted(ValueError):
    pass


def is_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:_PDF_HEADER_BYTES]


def _decode_sample(data: bytes) -> str | None:
    """The text of the file's first SAMPLE_BYTES, or None for binary content. A character cut at the
    sample's end is left out, not taken for a decoding error."""
    head = data[:SAMPLE_BYTES]
    final = len(data) <= SAMPLE_BYTES
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    elif b"\x00" in head:
        return None
    else:
        encodings = ("utf-8-sig", "cp1252")
    for enc in encodings:
        try:
            return codecs.getincrementaldecoder(enc)().decode(head, final=final)
        except UnicodeDecodeError:
            continue
    return None


def _sample_lines(text: str, whole: bool) -> list[str]:
    """The sample's first lines, each cut to SAMPLE_LINE_CHARS; a last line the sample cut is left out."""
    lines = text.splitlines()
    if not whole and len(lines) > 1:
        lines.pop()
    # Cut one past the bound, so that a cut line stays recognisable (longer than SAMPLE_LINE_CHARS).
    return [ln[: SAMPLE_LINE_CHARS + 1] for ln in lines[:SAMPLE_LINES]]


def _looks_like_csv(lines: list[str]) -> bool:
    """Two or more rows with the same number (2+) of fields for one delimiter. csv.Sniffer is not used:
    its quote pattern is quadratic in the text (seconds for tens of KB of `,"a`); csv.reader is linear."""
    rows = [ln for ln in lines[:CSV_LINES] if ln.strip() and len(ln) <= SAMPLE_LINE_CHARS]
    if len(rows) < 2:
        return False
    for delimiter in _CSV_DELIMITERS:
        try:
            widths = {len(r) for r in csv.reader(rows, delimiter=delimiter)}
        except csv.Error:
            continue
        if len(widths) == 1 and widths.pop() >= 2:
            return True
    return False


def _text_kind(text: str, whole: bool, ext_hint: str) -> str:
    stripped = text.lstrip()[:4096].lower()
    if stripped.startswith(("<!doctype html", "<html")) or (
        stripped.startswith("<") and ("<body" in stripped or "<head" in stripped)
    ):
        return HTML
    # Markdown, AsciiDoc and CSV have no magic bytes: the content decides, the name only breaks ties.
    lines = _sample_lines(text, whole)
    adoc = sum(
        1 for ln in lines if ln.startswith(("= ", "== ", "=== ", ":toc:", "[source", "----", ":author:"))
    )
    md = sum(1 for ln in lines if ln.startswith(("# ", "## ", "### ", "- ", "* ", "```", "> ", "|")))
    if ext_hint in ("adoc", "asciidoc") or (adoc >= 2 and adoc > md):
        return ASCIIDOC
    if ext_hint == "csv" or (
        ext_hint not in ("md", "markdown", "txt") and md == 0 and _looks_like_csv(lines)
    ):
        return CSV
    if ext_hint in ("md", "markdown") or md >= 1:
        return MD
    return TEXT


def _office(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except zipfile.BadZipFile as exc:
        raise Unsupported(f"damaged zip container: {exc}") from exc
    for member, fmt in _OOXML_MAIN.items():
        if member in names:
            return fmt
    raise Unsupported("zip archive that is not a DOCX, PPTX or XLSX document")


def detect(data: bytes, filename: str | None = None) -> str:
    """The document's format from its content. Raises Unsupported or Encrypted."""
    ext_hint = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if is_pdf(data):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return _office(data)
    if data.startswith(_OLE_MAGIC):
        # An OLE container holding an OOXML package is how Office stores a password-protected file.
        if _OLE_ENCRYPTED in data:
            raise Encrypted("the Office document is password-protected")
        raise Unsupported("legacy binary Office format (.doc/.ppt/.xls); save it as DOCX/PPTX/XLSX")
    text = _decode_sample(data)
    if text is None:
        raise Unsupported("binary content of an unsupported format")
    return _text_kind(text, len(data) <= SAMPLE_BYTES, ext_hint)
