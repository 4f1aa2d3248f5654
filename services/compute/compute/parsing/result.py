"""A DoclingDocument shaped into the ParseResult contract: markdown, text, sections, tables.

A window of a PDF starts from the headings still open at the end of the previous window (`Outline`),
so its sections carry the same heading paths as in one parse of the whole document.
"""

from dataclasses import dataclass, field

from docling_core.types.doc import (
    ContentLayer,
    DoclingDocument,
    GroupItem,
    SectionHeaderItem,
    TableItem,
    TextItem,
    TitleItem,
)
from docling_core.types.doc.labels import DocItemLabel, GroupLabel

# Items that are page furniture or not prose: kept out of text and sections.
_SKIP = {DocItemLabel.PAGE_HEADER, DocItemLabel.PAGE_FOOTER}
# Body plus notes: speaker notes and reviewers' comments are content a user searches for.
LAYERS = {ContentLayer.BODY, ContentLayer.NOTES}


def _page(item) -> int | None:  # item: any DocItem
    prov = getattr(item, "prov", None)
    return prov[0].page_no if prov else None


@dataclass
class Outline:
    """Where a window left off: the open headings, as (level, text) from the widest, and whether its last
    section was still open (text after its last heading)."""

    headings: list[tuple[int, str]] = field(default_factory=list)
    section_open: bool = False


def to_parse_result(
    doc: DoclingDocument, fmt: str, pages: int | None = None, outline: Outline | None = None
) -> tuple[dict, Outline]:
    """The contract's fields of `doc`, and the outline at its end (for the next window)."""
    outline = outline or Outline()
    walk = _Walk(path=list(outline.headings), continues=outline.section_open)
    for item, _level in doc.iterate_items(included_content_layers=LAYERS, with_groups=True):
        if getattr(item, "label", None) not in _SKIP:
            walk.visit(doc, item)
    page_count = pages if pages is not None else len(doc.pages)
    parsed = {
        "format": fmt,
        "pages": page_count,
        "markdown": doc.export_to_markdown(included_content_layers=LAYERS),
        "text": "\n\n".join(walk.texts),
        "sections": walk.sections,
        "tables": walk.tables,
        "metadata": {"name": doc.name},
        "continues_section": walk.continued,
    }
    # A window without a heading leaves the previous window's section open, even if it had no text.
    return parsed, Outline(headings=walk.path, section_open=walk.current is not None or walk.continues)


@dataclass
class _Walk:
    """One pass over a document's items, in reading order: the heading stack, the sections, tables and
    texts found so far."""

    path: list[tuple[int, str]]  # (level, heading) stack
    # Text before this window's first heading goes on with the previous window's last section.
    continues: bool
    sections: list[dict] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    current: dict | None = None  # the section text goes into
    continued: bool = False  # this window's first section is the previous window's last, going on

    def visit(self, doc: DoclingDocument, item) -> None:  # item: any DocItem or GroupItem
        if isinstance(item, GroupItem):
            # Spreadsheets group each sheet under a named group: its name is the sheet's heading.
            if item.label == GroupLabel.SHEET and item.name:
                self._sheet(item.name.strip())
            return
        if isinstance(item, (TitleItem, SectionHeaderItem)):
            level = 0 if isinstance(item, TitleItem) else int(getattr(item, "level", 1) or 1)
            self._heading(level, item.text)
            return
        if isinstance(item, TableItem):
            piece = self._table(doc, item)
        elif isinstance(item, TextItem):
            piece = item.text
        else:
            return
        if piece and piece.strip():
            self._text(piece, item)

    def _sheet(self, name: str) -> None:
        self.path[:] = [(1, name)]
        self.texts.append(name)
        self.current, self.continues = None, False

    def _heading(self, level: int, text: str) -> None:
        while self.path and self.path[-1][0] >= level:
            self.path.pop()
        self.path.append((level, text.strip()))
        self.texts.append(text)
        self.current, self.continues = None, False

    def _table(self, doc: DoclingDocument, item: TableItem) -> str:
        md = item.export_to_markdown(doc)
        self.tables.append(
            {
                "page": _page(item),
                "markdown": md,
                "num_rows": item.data.num_rows,
                "num_cols": item.data.num_cols,
            }
        )
        return md

    def _text(self, piece: str, item) -> None:  # item: the DocItem `piece` is from
        self.texts.append(piece)
        if self.current is None:
            self.continued = self.continued or (self.continues and not self.sections)
            self.current = {"heading_path": [h for _, h in self.path], "page": _page(item), "text": ""}
            self.sections.append(self.current)
        self.current["text"] = f"{self.current['text']}\n\n{piece}" if self.current["text"] else piece


def carry_headings(doc: DoclingDocument, headings: list[tuple[int, str]]) -> None:
    """Put the headings still open from the previous window in front of this window's document, so a
    chunker that reads headings from the document (docling's) files the window's first chunks under them
    as it would without windows. Headings make no chunk of their own, so no text is repeated."""
    first = next(iter(doc.body.children), None)
    for level, text in headings:
        if first is None:
            if level == 0:
                doc.add_title(text=text)
            else:
                doc.add_heading(text=text, level=level)
            continue
        sibling = first.resolve(doc)
        if level == 0:
            doc.insert_title(sibling=sibling, text=text, after=False)
        else:
            doc.insert_heading(sibling=sibling, text=text, level=level, after=False)
