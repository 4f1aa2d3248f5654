"""OCR of PDF pages that have no text layer, with RapidOCR (its wheel ships the ONNX models).

Recognised lines are appended to the document as paragraphs with the page in their provenance.
The engine loads lazily, once per worker process: most documents never need it.
"""

import logging

import pypdfium2 as pdfium
from docling_core.types.doc import BoundingBox, CoordOrigin, DocItemLabel, DoclingDocument, ProvenanceItem

log = logging.getLogger("compute.ocr")
RENDER_SCALE = 2.0  # 144 dpi: enough for body text, a quarter of the pixels of 288 dpi
_engine = None


def _get_engine():  # rapidocr has no public type to name
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR  # heavy import, only when a scanned page shows up

        _engine = RapidOCR(params={"Global.log_level": "error"})
    return _engine


def ocr_pages(
    data: bytes, password: str | None, pages: list[int], doc: DoclingDocument, max_pages: int = 20
) -> list[int]:
    """OCR up to `max_pages` of `pages` (1-based) into `doc`; returns the pages that yielded text."""
    recovered: list[int] = []
    try:
        engine = _get_engine()
        pdf = pdfium.PdfDocument(data, password=password)
    except Exception as exc:  # OCR is best effort: the parse result still reports the pages
        log.warning("ocr unavailable: %s", exc)
        return recovered
    try:
        for page_no in pages[:max_pages]:
            page = pdf[page_no - 1]
            height = page.get_height()
            image = page.render(scale=RENDER_SCALE).to_pil()
            out = engine(image)
            texts = list(out.txts or ())
            boxes = list(out.boxes) if out.boxes is not None else [None] * len(texts)
            lines = [(t.strip(), b) for t, b in zip(texts, boxes, strict=False) if t and t.strip()]
            if not lines:
                continue
            for text, box in lines:
                bbox = _bbox(box, height) if box is not None else BoundingBox(l=0, t=height, r=0, b=height)
                prov = ProvenanceItem(page_no=page_no, bbox=bbox, charspan=(0, len(text)))
                doc.add_text(label=DocItemLabel.TEXT, text=text, prov=prov)
            recovered.append(page_no)
    finally:
        pdf.close()
    return recovered


def _bbox(box, page_height: float) -> BoundingBox:  # box: a 4x2 array of pixel corners
    xs = [float(p[0]) / RENDER_SCALE for p in box]
    ys = [float(p[1]) / RENDER_SCALE for p in box]
    return BoundingBox(
        l=min(xs),
        r=max(xs),
        t=page_height - min(ys),
        b=page_height - max(ys),
        coord_origin=CoordOrigin.BOTTOMLEFT,
    )
