"""Page windows of a PDF: the pages one /parse request covers, and what it hands on to the next one.

compute keeps nothing between requests: the caller (the orchestrator) sends each window's
`continuation` back with the request for the next window. It carries what a parse of the whole
document would have known by then: the font style headings are read with, the open headings, whether
the last section goes on, and the OCR budget left. (Plain data: the API process, which checks it, never
imports Docling; the worker turns it into pdf_structure.Style and result.Outline.)
"""

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationError

MAX_CONTINUATION_BYTES = 64 * 1024
MAX_OPEN_HEADINGS = 64
MAX_HEADING_LEVEL = 8  # above what either pipeline writes (pdf_structure stops at 4)


class InvalidContinuation(ValueError):
    pass


@dataclass(frozen=True)
class Window:
    first_page: int  # 1-based, inclusive
    page_count: int

    def pages(self, document_pages: int) -> tuple[int, int]:
        """(first, last) of this window in a document of `document_pages` pages."""
        return self.first_page, min(document_pages, self.first_page + self.page_count - 1)


class Continuation(BaseModel):
    v: Literal[1] = 1
    # None: no window so far had text to read the body's size from (the next one reads its own).
    body: float | None = Field(default=None, gt=0, lt=10_000)
    levels: dict[float, Annotated[int, Field(ge=1, le=MAX_HEADING_LEVEL)]] = Field(max_length=256)
    headings: list[tuple[Annotated[int, Field(ge=0, le=MAX_HEADING_LEVEL)], str]] = Field(
        max_length=MAX_OPEN_HEADINGS
    )
    section_open: bool = False
    ocr_pages_left: int = Field(ge=0)

    @classmethod
    def parse(cls, raw: str | bytes) -> "Continuation":
        if len(raw) > MAX_CONTINUATION_BYTES:
            raise InvalidContinuation(f"`continuation` is over {MAX_CONTINUATION_BYTES} bytes")
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise InvalidContinuation(
                f"`continuation` is not one a window answered: {exc.errors()[0]['msg']}"
            ) from exc
