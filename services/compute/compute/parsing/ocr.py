"""OCR of PDF pages that have no text layer, with RapidOCR (its wheel ships the ONNX models).

Recognised lines are appended to the document as paragraphs with the page in their provenance.
The engine loads lazily, once per worker process: most documents never need it, and a page that renders
blank (the corpus's 400-page PDF has two) is skipped before it loads. The engine is set for memory: a
page of dense text OCR'd with RapidOCR's defaults peaked near 1 GB in a fresh process, ~0.5 GB with
these (and no worse recall in our check), so a window with a scanned page stays inside the worker's cap.
"""

import logging

import pypdfium2 as pdfium
from docling_core.types.doc import BoundingBox, CoordOrigin, DocItemLabel, DoclingDocument, ProvenanceItem

log = logging.getLogger("compute.ocr")
RENDER_SCALE = 2.0  # 144 dpi: enough for body text, a quarter of the pixels of 288 dpi
BLANK_RANGE = 8  # grey levels between a page's darkest and lightest pixel below which it holds nothing
ENGINE_PARAMS = {
    "Global.log_level": "error",
    # Detection sees at most 1280 px (the default scales a page UP to a 736 px short side, ~1.6x the
    # pixels at 144 dpi); recognition crops come from the full render either way.
    "Det.limit_type": "max",
    "Det.limit_side_len": 1280,
    # One text line per recognition pass: batches of 6 padded to the widest line held ~400 MB more, and
    # were no faster on 1-2 threads.
    "Rec.rec_batch_num": 1,
}
_engine = None


def _get_engine():  # rapidocr has no public type to name
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR  # heavy import, only when a scanned page shows up

        _engine = RapidOCR(params=ENGINE_PARAMS)
    return _engine


def ocr_pages(
    data: bytes, password: str | None, pages: list[int], doc: DoclingDocument, max_pages: int = 20
) -> list[int]:
    """OCR up to `max_pages` of `pages` (1-based) into `doc`; returns the pages that yielded text."""
    recovered: list[int] = []
    try:
        pdf = pdfium.PdfDocument(data, password=password)
    except Exception as exc:  # OCR is best effort: the parse result still reports the pages
        log.warning("ocr unavailable: %s", exc)
        return recovered
    try:
        for page_no in pages[:max_pages]:
            page = pdf[page_no - 1]
            height = page.get_height()
            image = page.render(scale=RENDER_SCALE).to_pil()
            if is_blank(image):
                continue
            try:
                engine = _get_engine()
            except Exception as exc:
                log.warning("ocr unavailable: %s", exc)
                return recovered
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


def is_blank(image) -> bool:  # a PIL image
    low, high = image.convert("L").getextrema()
    return high - low < BLANK_RANGE


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
