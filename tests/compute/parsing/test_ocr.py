"""OCR of pages without a text layer: blank pages skip the engine, a full scanned page stays in memory."""

from pathlib import Path

import pypdfium2 as pdfium
from docling_core.types.doc import DoclingDocument
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from compute.parsing import ocr
from compute.parsing.pool import ParseJob, ParsePool
from compute.settings import Settings
from tests.support import documents

PEAK_CAP_MB = 1000  # a parse worker OCR'ing a scanned page stays under 1 GB


def _render(path: Path):
    pdf = pdfium.PdfDocument(str(path))
    try:
        return pdf[0].render(scale=ocr.RENDER_SCALE).to_pil()
    finally:
        pdf.close()


def _blank_pdf(path: Path, pages: int = 1) -> Path:
    c = canvas.Canvas(str(path), pagesize=letter)
    for _ in range(pages):
        c.showPage()
    c.save()
    return path


def _with_scan_after_blanks(path: Path, blanks: int) -> Path:
    """`blanks` white pages, then a page that is a picture of text."""
    scan = pdfium.PdfDocument(str(documents.scanned_pdf(path.with_suffix(".scan.pdf"))))
    # pdfium reads an opened file lazily: the blanks come from another file than the one written.
    out = pdfium.PdfDocument(str(_blank_pdf(path.with_suffix(".blanks.pdf"), blanks)))
    out.import_pages(scan)
    out.save(str(path))
    out.close()
    scan.close()
    return path


def test_a_white_page_is_blank_and_a_scan_is_not(tmp_path):
    white = _render(_blank_pdf(tmp_path / "blank.pdf"))
    assert ocr.is_blank(white)
    specked = white.copy()
    for xy in ((10, 10), (500, 700), (1000, 1500)):  # dust on a scanned blank page
        specked.putpixel(xy, (0, 0, 0))
    assert ocr.is_blank(specked)
    assert not ocr.is_blank(_render(documents.scanned_pdf(tmp_path / "scan.pdf")))


def test_blank_pages_neither_load_the_engine_nor_spend_the_budget(tmp_path, monkeypatch):
    calls: list[int] = []

    def no_engine(threads: int):
        calls.append(threads)
        raise RuntimeError("the engine must not load for blank pages")

    doc = DoclingDocument(name="blank")
    with monkeypatch.context() as patch:
        patch.setattr(ocr, "_get_engine", no_engine)
        outcome = ocr.ocr_pages(_blank_pdf(tmp_path / "blank.pdf", 3).read_bytes(), None, [1, 2, 3], doc, 1)
    assert calls == [] and outcome.tried == 0 and outcome.recovered == []
    # A budget of one page reaches the scan behind three blank pages (the real engine reads it).
    mixed = _with_scan_after_blanks(tmp_path / "mixed.pdf", 3).read_bytes()
    outcome = ocr.ocr_pages(mixed, None, [1, 2, 3, 4], doc, 1)
    assert outcome.recovered == [4] and outcome.tried == 1
    assert "INVOICE" in " ".join(t.text for t in doc.texts).upper()


def test_a_poster_sized_page_renders_within_the_pixel_cap():
    scale = ocr.render_scale(72 * 100, 72 * 100)  # a 100-inch square page
    assert (72 * 100 * scale) ** 2 <= ocr.MAX_RENDER_PIXELS * 1.001  # float rounding of the square root
    assert ocr.render_scale(*letter) == ocr.RENDER_SCALE


async def test_a_fresh_worker_ocrs_a_full_page_of_scanned_text_under_1_gb(tmp_path):
    path = documents.scanned_page_of_text(tmp_path / "dense.pdf")
    pool = ParsePool(Settings(env="dev", parse_tmp_dir=tmp_path / "parse"))
    await pool.start()
    try:
        outcome = await pool.parse(ParseJob(data=path.read_bytes(), filename="dense.pdf"))
    finally:
        await pool.close()
    result = outcome.payload["result"]
    assert "ocr applied to pages [1]" in " ".join(result["warnings"])
    words = set(result["text"].lower().split())
    assert {"turbine", "blades", "cracks", "operation"} <= words, sorted(words)[:40]
    print(f"parse worker peak {outcome.peak_rss_mb:.0f} MB")
    assert outcome.peak_rss_mb < PEAK_CAP_MB
