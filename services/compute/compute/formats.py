"""Format detection from the bytes themselves, never from a client's file name or content type."""

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

_OOXML_MAIN = {
    "word/document.xml": DOCX,
    "ppt/presentation.xml": PPTX,
    "xl/workbook.xml": XLSX,
}
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class Unsupported(ValueError):
    pass


class Encrypted(ValueError):
    pass


def _decode_text(data: bytes) -> str | None:
    """The text of a file that is text, or None for binary content."""
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in head:
        return None
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return None


def _looks_like_csv(text: str) -> bool:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;|\t")
    except csv.Error:
        return False
    rows = list(csv.reader(io.StringIO("\n".join(lines)), dialect))
    widths = {len(r) for r in rows}
    return len(widths) == 1 and widths.pop() >= 2


def _text_kind(text: str, ext_hint: str) -> str:
    stripped = text.lstrip().lower()
    if stripped.startswith(("<!doctype html", "<html")) or (
        stripped.startswith("<") and ("<body" in stripped[:4096] or "<head" in stripped[:4096])
    ):
        return HTML
    # Markdown, AsciiDoc and CSV have no magic bytes: the content decides, the name only breaks ties.
    lines = text.splitlines()[:200]
    adoc = sum(
        1 for ln in lines if ln.startswith(("= ", "== ", "=== ", ":toc:", "[source", "----", ":author:"))
    )
    md = sum(1 for ln in lines if ln.startswith(("# ", "## ", "### ", "- ", "* ", "```", "> ", "|")))
    if ext_hint in ("adoc", "asciidoc") or (adoc >= 2 and adoc > md):
        return ASCIIDOC
    if ext_hint == "csv" or (ext_hint not in ("md", "markdown", "txt") and md == 0 and _looks_like_csv(text)):
        return CSV
    if ext_hint in ("md", "markdown") or md >= 1:
        return MD
    return TEXT


def detect(data: bytes, filename: str | None = None) -> str:
    """The document's format from its content. Raises Unsupported or Encrypted."""
    ext_hint = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if b"%PDF-" in data[:1024]:  # the header may follow a little junk; readers accept that
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile as exc:
            raise Unsupported(f"damaged zip container: {exc}") from exc
        for member, fmt in _OOXML_MAIN.items():
            if member in names:
                return fmt
        raise Unsupported("zip archive that is not a DOCX, PPTX or XLSX document")
    if data.startswith(_OLE_MAGIC):
        # An OLE container holding an OOXML package is how Office stores a password-protected file.
        if b"E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e" in data:
            raise Encrypted("the Office document is password-protected")
        raise Unsupported("legacy binary Office format (.doc/.ppt/.xls); save it as DOCX/PPTX/XLSX")
    text = _decode_text(data)
    if text is None:
        raise Unsupported("binary content of an unsupported format")
    return _text_kind(text, ext_hint)
