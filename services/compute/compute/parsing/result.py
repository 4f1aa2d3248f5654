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
    sections: list[dict] = []
    tables: list[dict] = []
    texts: list[str] = []
    outline = outline or Outline()
    path: list[tuple[int, str]] = list(outline.headings)  # (level, heading) stack
    current: dict | None = None
    # Text before this window's first heading goes on with the previous window's last section.
    continues = outline.section_open
    continued = False  # this window's first section is the previous window's last, going on

    def open_section(page: int | None) -> dict:
        section = {"heading_path": [h for _, h in path], "page": page, "text": ""}
        sections.append(section)
        return section

    for item, _level in doc.iterate_items(included_content_layers=LAYERS, with_groups=True):
        label = getattr(item, "label", None)
        if label in _SKIP:
            continue
        if isinstance(item, GroupItem):
            # Spreadsheets group each sheet under a named group: its name is the sheet's heading.
            if item.label == GroupLabel.SHEET and item.name:
                path[:] = [(1, item.name.strip())]
                texts.append(path[0][1])
                current, continues = None, False
            continue
        if isinstance(item, (TitleItem, SectionHeaderItem)):
            level = 0 if isinstance(item, TitleItem) else int(getattr(item, "level", 1) or 1)
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, item.text.strip()))
            texts.append(item.text)
            current, continues = None, False
            continue
        if isinstance(item, TableItem):
            md = item.export_to_markdown(doc)
            tables.append(
                {
                    "page": _page(item),
                    "markdown": md,
                    "num_rows": item.data.num_rows,
                    "num_cols": item.data.num_cols,
                }
            )
            piece = md
        elif isinstance(item, TextItem):
            piece = item.text
        else:
            continue
        if not piece or not piece.strip():
            continue
        texts.append(piece)
        if current is None:
            continued = continued or (continues and not sections)
            current = open_section(_page(item))
        current["text"] = f"{current['text']}\n\n{piece}" if current["text"] else piece

    page_count = pages if pages is not None else len(doc.pages)
    parsed = {
        "format": fmt,
        "pages": page_count,
        "markdown": doc.export_to_markdown(included_content_layers=LAYERS),
        "text": "\n\n".join(texts),
        "sections": sections,
        "tables": tables,
        "metadata": {"name": doc.name},
        "continues_section": continued,
    }
    # A window without a heading leaves the previous window's section open, even if it had no text.
    return parsed, Outline(headings=path, section_open=current is not None or continues)


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
