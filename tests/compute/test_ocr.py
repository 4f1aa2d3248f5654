"""OCR of pages without a text layer: blank pages skip the engine, a full scanned page stays in memory."""

from pathlib import Path

import pypdfium2 as pdfium
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas

from compute.parsing import ocr
from compute.parsing.pool import ParseJob, ParsePool
from compute.settings import Settings
from tests.support import documents

PEAK_CAP_MB = 1000  # the "under 1 GB" for a parse worker


def _render(path: Path):
    pdf = pdfium.PdfDocument(str(path))
    try:
        return pdf[0].render(scale=ocr.RENDER_SCALE).to_pil()
    finally:
        pdf.close()


def test_a_white_page_is_blank_and_a_scan_is_not(tmp_path):
    blank = tmp_path / "blank.pdf"
    c = canvas.Canvas(str(blank), pagesize=letter)
    c.showPage()
    c.save()
    assert ocr.is_blank(_render(blank))
    assert not ocr.is_blank(_render(documents.scanned_pdf(tmp_path / "scan.pdf")))


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
