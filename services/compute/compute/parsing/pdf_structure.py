"""Rebuild paragraphs and headings for PDFs parsed without layout models.

Docling's model-free NativePdfPipeline yields one text item per line with no headings. Lines are merged
into paragraphs by vertical spacing; headings come from, strongest first, the PDF's bookmarks, a font
size clearly above the body text, and a bold, short, numbered line ("3.2 Results"). The result is a new
DoclingDocument, so Docling's markdown export and chunkers work on it. A PDF parsed in windows carries
its first window's font style (`Style`) on, so a size is the same heading level on page 900 as on page 9.
"""

import re
from collections import Counter
from dataclasses import dataclass, field

from docling.pipeline.native_pdf_pipeline import NativePdfPipeline
from docling_core.types.doc import BoundingBox, DocItemLabel, DoclingDocument, ProvenanceItem, Size
from docling_core.types.doc.page import SegmentedPdfPage

MAX_HEADING_CHARS = 160
MAX_HEADING_LEVEL = 4
_NUMBERED = re.compile(r"^(\d+(?:\.\d+){0,3})\.?\s+\S")
_BOLD = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)


class FontRecordingPdfPipeline(NativePdfPipeline):
    """The native pipeline, also remembering each line's font name (bold is a heading signal)."""

    def __init__(self, pipeline_options) -> None:  # docling's options type
        super().__init__(pipeline_options)
        self.line_fonts: list[tuple[int, str, str]] = []  # (page_no, text, font_name)

    def _build_document(self, conv_res):
        self.line_fonts = []
        return super()._build_document(conv_res)

    def _add_text_items(self, timings, doc, page_no: int, parsed_page: SegmentedPdfPage, size: Size):
        for cell in parsed_page.iterate_cells(self.pipeline_options.text_cell_unit):
            if cell.text:
                self.line_fonts.append((page_no, cell.text, getattr(cell, "font_name", "") or ""))
        super()._add_text_items(timings, doc, page_no, parsed_page, size)


@dataclass
class Line:
    text: str
    page: int
    bbox: BoundingBox  # bottom-left origin
    font: str = ""

    @property
    def height(self) -> float:
        return max(0.1, self.bbox.t - self.bbox.b)


@dataclass
class Block:
    lines: list[Line] = field(default_factory=list)
    heading_level: int = 0  # 0 = paragraph

    @property
    def page(self) -> int:
        return self.lines[0].page

    def text(self) -> str:
        out = ""
        for line in self.lines:
            piece = line.text.strip()
            if not out:
                out = piece
            elif out.endswith("-") and len(out) > 1 and out[-2].isalpha() and piece[:1].islower():
                out = out[:-1] + piece  # a word hyphenated across lines
            else:
                out = f"{out} {piece}"
        return out

    def bbox(self) -> BoundingBox:
        return BoundingBox(
            l=min(x.bbox.l for x in self.lines),
            t=max(x.bbox.t for x in self.lines),
            r=max(x.bbox.r for x in self.lines),
            b=min(x.bbox.b for x in self.lines),
            coord_origin=self.lines[0].bbox.coord_origin,
        )


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def _body_height(lines: list[Line]) -> float:
    """The line height carrying the most characters: the body text's size."""
    weight: Counter[float] = Counter()
    for line in lines:
        weight[round(line.height, 0)] += len(line.text)
    return weight.most_common(1)[0][0] if weight else 10.0


def _heading_sizes(lines: list[Line], body: float) -> set[float]:
    return {
        round(ln.height, 0) for ln in lines if ln.height >= body * 1.15 and len(ln.text) <= MAX_HEADING_CHARS
    }


def _size_levels(sizes: set[float]) -> dict[float, int]:
    """Font sizes clearly above the body's, largest first, as heading levels 1..MAX_HEADING_LEVEL."""
    return {size: min(i + 1, MAX_HEADING_LEVEL) for i, size in enumerate(sorted(sizes, reverse=True))}


@dataclass
class Style:
    """The body text's line height and the heading level of each larger size."""

    body: float
    levels: dict[float, int]

    @classmethod
    def from_lines(cls, lines: list[Line]) -> "Style":
        body = _body_height(lines)
        return cls(body, _size_levels(_heading_sizes(lines, body)))

    def extended(self, lines: list[Line]) -> "Style":
        """This style, plus sizes first seen in `lines`: each new size takes the level after the known
        sizes above it, and the known ones keep theirs (pages already parsed read them so)."""
        levels = dict(self.levels)
        for size in sorted(_heading_sizes(lines, self.body) - levels.keys(), reverse=True):
            above = sum(1 for known in levels if known > size)
            levels[size] = min(above + 1, MAX_HEADING_LEVEL)
        return Style(self.body, levels)


def _heading_level(line: Line, body: float, levels: dict[float, int], toc: dict[tuple[int, str], int]) -> int:
    text = line.text.strip()
    if not text or len(text) > MAX_HEADING_CHARS:
        return 0
    level = toc.get((line.page, _norm(text)))
    if level:
        return min(level, MAX_HEADING_LEVEL)
    if not re.search(r"[A-Za-z\u00C0-\uFFFF]", text) or text.endswith((",", ";")):
        return 0
    size_level = levels.get(round(line.height, 0))
    if size_level and len(text.split()) <= 20:
        return size_level
    match = _NUMBERED.match(text)
    if match and _BOLD.search(line.font) and not text.endswith(".") and len(text.split()) <= 14:
        return min(match.group(1).count(".") + 1, MAX_HEADING_LEVEL)
    return 0


def _starts_new_paragraph(prev: Line, line: Line) -> bool:
    if line.page != prev.page or abs(line.height - prev.height) > 0.25 * prev.height:
        return True
    gap = prev.bbox.b - line.bbox.t  # bottom-left origin: next line sits lower
    return gap < -0.5 * prev.height or gap > 0.9 * prev.height  # a column jump, or a blank line between


def build_blocks(lines: list[Line], toc: dict[tuple[int, str], int], style: Style) -> list[Block]:
    blocks: list[Block] = []
    for line in lines:
        level = _heading_level(line, style.body, style.levels, toc)
        last = blocks[-1] if blocks else None
        if level:
            # A heading wrapped over two lines of the same size stays one heading.
            if last and last.heading_level == level and not _starts_new_paragraph(last.lines[-1], line):
                last.lines.append(line)
            else:
                blocks.append(Block([line], level))
        elif last and last.heading_level == 0 and not _starts_new_paragraph(last.lines[-1], line):
            last.lines.append(line)
        else:
            blocks.append(Block([line]))
    return blocks


def restructure(
    doc: DoclingDocument,
    fonts: list[tuple[int, str, str]],
    toc: list[tuple[int, int, str]],
    style: Style | None = None,
) -> tuple[DoclingDocument, Style | None]:
    """A new document with paragraphs and headings from the line-per-item native parse, and the style it
    was read with (`style` extended, or this document's own when None; None while no line had text, so
    that a window of blank or scanned pages does not fix the body's size for the windows after it).

    `toc` is the PDF outline as (level, page_no, title); `fonts` the pipeline's (page_no, text, font).
    """
    font_of = {(p, t): f for p, t, f in fonts}
    lines = [
        Line(
            text=item.text,
            page=item.prov[0].page_no,
            bbox=item.prov[0].bbox,
            font=font_of.get((item.prov[0].page_no, item.text), ""),
        )
        for item in doc.texts
        if item.text and item.text.strip() and item.prov
    ]
    toc_index = {(page, _norm(title)): level for level, page, title in toc if title.strip()}
    out = DoclingDocument(name=doc.name, origin=doc.origin)
    if not lines and style is None:
        for page_no, page in sorted(doc.pages.items()):
            out.add_page(page_no=page_no, size=page.size)
        return out, None
    style = Style.from_lines(lines) if style is None else style.extended(lines)
    for page_no, page in sorted(doc.pages.items()):
        out.add_page(page_no=page_no, size=page.size)
    for block in build_blocks(lines, toc_index, style):
        text = block.text()
        prov = ProvenanceItem(page_no=block.page, bbox=block.bbox(), charspan=(0, len(text)))
        if block.heading_level:
            out.add_heading(text=text, level=block.heading_level, prov=prov)
        else:
            out.add_text(label=DocItemLabel.TEXT, text=text, prov=prov)
    return out, style


__all__ = ["FontRecordingPdfPipeline", "Style", "restructure"]
