"""OCR of PDF pages that have no text layer, with RapidOCR (its wheel ships the ONNX models).

Recognised lines are appended to the document as paragraphs with the page in their provenance.
The engine loads lazily, once per worker process: most documents never need it, and a page that renders
blank (the corpus's 400-page PDF has two) is skipped before it loads, without spending the OCR budget.
The engine is set for memory and keeps to the parse worker's threads: a fresh worker OCR'ing a page of
dense scanned text peaked at 1,063 MB with RapidOCR's defaults, 803 MB with these (and no worse recall
in our check), so a window with a scanned page stays inside the worker's cap.
"""

import logging
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from docling_core.types.doc import BoundingBox, CoordOrigin, DocItemLabel, DoclingDocument, ProvenanceItem

log = logging.getLogger("compute.ocr")
RENDER_SCALE = 2.0  # 144 dpi: enough for body text, a quarter of the pixels of 288 dpi
# A bigger page renders at a lower scale (A3 at 144 dpi is 4.0 M): a poster-sized page would otherwise
# be a bitmap of gigabytes.
MAX_RENDER_PIXELS = 4_200_000
# A page is blank when fewer than this share of its pixels are ink: darker than its commonest grey by
# INK_CONTRAST levels. Scanner specks and faint noise stay under it; one short word is ~300 px of 1.9 M.
BLANK_INK_SHARE = 1e-4
INK_CONTRAST = 48
ENGINE_PARAMS = {
    "Global.log_level": "error",
    # Detection sees at most 1280 px: a 144 dpi letter page (1224 x 1584) shrinks to 989 x 1280, ~0.65x
    # the pixels that the default (no resize past a 736 px short side) feeds it; recognition crops come
    # from the full render either way.
    "Det.limit_type": "max",
    "Det.limit_side_len": 1280,
    # One text line per recognition pass: batches of 6 padded to the widest line held ~400 MB more, and
    # were no faster on 1-2 threads.
    "Rec.rec_batch_num": 1,
}
_engine = None


@dataclass
class OcrOutcome:
    recovered: list[int] = field(default_factory=list)  # pages that yielded text
    tried: int = 0  # pages the engine read (blank ones are not): what the OCR budget is charged


def _get_engine(threads: int):  # rapidocr has no public type to name
    global _engine
    if _engine is None:
        from rapidocr import RapidOCR  # heavy import, only when a scanned page shows up

        # Without a thread count onnxruntime takes every core, past the worker's share and its memory.
        _engine = RapidOCR(
            params={
                **ENGINE_PARAMS,
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
    return _engine


def ocr_pages(
    data: bytes,
    password: str | None,
    pages: list[int],
    doc: DoclingDocument,
    max_pages: int = 20,
    threads: int = 1,
) -> OcrOutcome:
    """OCR up to `max_pages` of `pages` (1-based) that are not blank into `doc`."""
    outcome = OcrOutcome()
    try:
        pdf = pdfium.PdfDocument(data, password=password)
    except Exception as exc:  # OCR is best effort: the parse result still reports the pages
        log.warning("ocr unavailable: %s", exc)
        return outcome
    try:
        for page_no in pages:  # at most a window's pages; a blank one costs a render (~10 ms)
            if outcome.tried >= max_pages:
                break
            page = pdf[page_no - 1]
            height = page.get_height()
            scale = render_scale(page.get_width(), height)
            image = page.render(scale=scale).to_pil()
            if is_blank(image):
                continue
            try:
                engine = _get_engine(threads)
            except Exception as exc:
                log.warning("ocr unavailable: %s", exc)
                return outcome
            outcome.tried += 1
            out = engine(image)
            texts = list(out.txts or ())
            boxes = list(out.boxes) if out.boxes is not None else [None] * len(texts)
            lines = [(t.strip(), b) for t, b in zip(texts, boxes, strict=False) if t and t.strip()]
            if not lines:
                continue
            for text, box in lines:
                bbox = (
                    _bbox(box, height, scale)
                    if box is not None
                    else BoundingBox(l=0, t=height, r=0, b=height)
                )
                prov = ProvenanceItem(page_no=page_no, bbox=bbox, charspan=(0, len(text)))
                doc.add_text(label=DocItemLabel.TEXT, text=text, prov=prov)
            outcome.recovered.append(page_no)
    finally:
        pdf.close()
    return outcome


def is_blank(image) -> bool:  # a PIL image
    grey = image.convert("L")
    histogram = grey.histogram()
    background = max(range(256), key=histogram.__getitem__)
    ink = sum(histogram[: max(0, background - INK_CONTRAST)])
    return ink < BLANK_INK_SHARE * grey.width * grey.height


def render_scale(width_pt: float, height_pt: float) -> float:
    area = max(1.0, width_pt * height_pt)
    return min(RENDER_SCALE, (MAX_RENDER_PIXELS / area) ** 0.5)


def _bbox(box, page_height: float, scale: float) -> BoundingBox:  # box: a 4x2 array of pixel corners
    xs = [float(p[0]) / scale for p in box]
    ys = [float(p[1]) / scale for p in box]
    return BoundingBox(
        l=min(xs),
        r=max(xs),
        t=page_height - min(ys),
        b=page_height - max(ys),
        coord_origin=CoordOrigin.BOTTOMLEFT,
    )
