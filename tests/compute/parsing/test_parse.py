"""/parse on generated documents of every format, and every input error it must answer cleanly."""

import io
import zipfile

import pytest

from tests.support import assert_error, documents
from tests.support.documents import HEADING, SENTENCES

FORMATS = ["pdf", "docx", "pptx", "xlsx", "html", "md", "csv", "asciidoc", "text"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_parses_with_its_text(client, docs, fmt):
    path = docs[fmt]
    # A misleading name: the format must come from the bytes (text formats use the name only as a tie-break).
    name = path.name if fmt in ("md", "csv", "asciidoc", "text") else "upload.bin"
    resp = client.post("/parse", files={"file": (name, path.read_bytes(), "application/octet-stream")})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["format"] == fmt
    assert SENTENCES[fmt] in body["text"]
    assert body["markdown"].strip()
    assert any(SENTENCES[fmt] in s["text"] for s in body["sections"])


@pytest.mark.parametrize("fmt", ["pdf", "docx", "html", "md", "asciidoc"])
def test_headings_become_section_paths(client, docs, fmt):
    body = client.post("/parse", files={"file": docs[fmt].open("rb")}).json()
    section = next(s for s in body["sections"] if SENTENCES[fmt] in s["text"])
    assert HEADING in section["heading_path"], section


def test_pdf_pages_and_page_numbers(client, tmp_path):
    path = documents.pdf(tmp_path / "three.pdf", pages=3)
    body = client.post("/parse", files={"file": path.open("rb")}).json()
    assert body["pages"] == 3
    assert body["pipeline"] == "native"
    pages = {s["page"] for s in body["sections"]}
    assert pages == {1, 2, 3}
    # reportlab wrote outline entries: they become the heading of each page's section.
    assert [s["heading_path"] for s in body["sections"] if s["page"] == 3] == [["Section 3"]]


def test_raw_body_upload(client, docs):
    resp = client.post(
        "/parse", content=docs["docx"].read_bytes(), headers={"content-type": "application/octet-stream"}
    )
    assert resp.status_code == 200
    assert SENTENCES["docx"] in resp.json()["text"]


def test_docx_table_is_reported(client, docs):
    body = client.post("/parse", files={"file": docs["docx"].open("rb")}).json()
    assert body["tables"] and body["tables"][0]["num_rows"] == 2
    assert "Crane" in body["tables"][0]["markdown"]


def test_include_document_returns_docling_json(client, docs):
    body = client.post(
        "/parse", params={"include_document": "true"}, files={"file": docs["md"].open("rb")}
    ).json()
    assert body["document"]["schema_name"] == "DoclingDocument"
    assert client.post("/parse", files={"file": docs["md"].open("rb")}).json()["document"] is None


def test_encrypted_pdf_needs_its_password(client, tmp_path):
    path = documents.pdf(tmp_path / "locked.pdf", pages=1, password="s3cret")
    assert_error(client.post("/parse", files={"file": path.open("rb")}), 422, "encrypted_document")
    wrong = client.post("/parse", files={"file": path.open("rb")}, data={"password": "nope"})
    assert "wrong password" in assert_error(wrong, 422, "encrypted_document")["message"]
    ok = client.post("/parse", files={"file": path.open("rb")}, data={"password": "s3cret"})
    assert ok.status_code == 200
    assert SENTENCES["pdf"] in ok.json()["text"]


def test_empty_file(client):
    assert_error(client.post("/parse", files={"file": ("e.pdf", b"")}), 422, "empty_document")


def test_binary_garbage_is_unsupported(client):
    blob = bytes(range(256)) * 64
    assert_error(client.post("/parse", files={"file": ("x.pdf", blob)}), 415, "unsupported_format")


def test_zip_that_is_not_office(client):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert_error(client.post("/parse", files={"file": ("a.docx", buf.getvalue())}), 415, "unsupported_format")


def test_legacy_office_binary_is_unsupported(client):
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2048
    assert_error(client.post("/parse", files={"file": ("old.doc", ole)}), 415, "unsupported_format")


def test_truncated_pdf_is_corrupt(client, docs):
    data = docs["pdf"].read_bytes()[:400]
    assert_error(client.post("/parse", files={"file": ("t.pdf", data)}), 422, "corrupt_document")


def test_docx_zip_bomb_is_refused_before_decompression(client, docs):
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docs["docx"].read_bytes())) as src,
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info, src.read(info.filename))
        dst.writestr("word/media/bomb.bin", b"\x00" * (40 * 1024 * 1024))  # 40 MiB of zeros, ~40 KB zipped
    assert len(buf.getvalue()) < 1_000_000
    err = assert_error(client.post("/parse", files={"file": ("b.docx", buf.getvalue())}), 413, "too_large")
    assert "expands" in err["message"]


def test_page_without_text_layer_is_ocrd(client, tmp_path):
    path = documents.scanned_pdf(tmp_path / "scan.pdf")
    body = client.post("/parse", files={"file": path.open("rb")}).json()
    assert body["pages_without_text"] == []
    assert any("ocr applied to pages [1]" in w for w in body["warnings"])
    assert {"SCANNED", "INVOICE", "4200"} <= set(body["text"].upper().split())
