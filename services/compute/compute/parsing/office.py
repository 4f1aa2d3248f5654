"""Office (OOXML zip) containers: zip-bomb limits on declared sizes, and repairs Docling trips on."""

import io
import zipfile
from dataclasses import dataclass


class ArchiveTooLarge(ValueError):
    pass


class ArchiveDamaged(ValueError):
    pass


@dataclass(frozen=True)
class ArchiveLimits:
    member_max_bytes: int
    total_max_bytes: int
    max_members: int = 10_000


def check(data: bytes, limits: ArchiveLimits) -> None:
    """Refuse containers whose declared expansion is past the limits, before decompressing anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise ArchiveDamaged(f"damaged Office container: {exc}") from exc
    if len(infos) > limits.max_members:
        raise ArchiveTooLarge(
            f"the Office container has {len(infos)} members; the limit is {limits.max_members}"
        )
    biggest = max((i.file_size for i in infos), default=0)
    total = sum(i.file_size for i in infos)
    if biggest > limits.member_max_bytes or total > limits.total_max_bytes:
        raise ArchiveTooLarge(
            f"the Office container expands to {total} bytes (largest member {biggest}); "
            f"limits are {limits.total_max_bytes} in all and {limits.member_max_bytes} per member"
        )


def _without_comments(xml: bytes) -> bytes:
    """`xml` less its `<!-- ... -->` comments, in one linear scan (a lazy regex is quadratic on many
    unclosed ones). Past an unclosed comment no `-->` follows, so the rest is kept as it is."""
    parts = []
    pos = 0
    while (start := xml.find(b"<!--", pos)) != -1:
        end = xml.find(b"-->", start + 4)
        if end == -1:
            break
        parts.append(xml[pos:start])
        pos = end + 3
    parts.append(xml[pos:])
    return b"".join(parts)


def strip_docx_xml_comments(data: bytes) -> bytes:
    """XML comments in word/document.xml make Docling's Word backend fail; they carry no content."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        body = zf.read("word/document.xml")
        if b"<!--" not in body:
            return data
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in zf.infolist():
                content = zf.read(info.filename)
                if info.filename == "word/document.xml":
                    content = _without_comments(content)
                dst.writestr(info, content)
    return out.getvalue()
