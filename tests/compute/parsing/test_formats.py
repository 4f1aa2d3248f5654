"""Format detection: each branch from the bytes, on a bounded sample, in linear time on any input.

Hypothesis drives `formats.detect` with a deadline per example over texts built from the shapes that
make text checks superlinear (csv.Sniffer took 4.8 s on 36 KB of `,"a` on two lines), behind every
format's lead bytes. The office comment stripper is checked against the lazy pattern it stands for.
"""

import io
import re
import zipfile
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compute import formats
from compute.parsing import office
from tests.support.format_leads import LEADS

# The lead bytes of every branch of detect (and none: the plain-text family).
# Blocks whose long repetitions are the known worst cases of text checks.
SHAPES = [',"a', ";'a", '\t"', "<!--", "<a ", "<a>", "[", "{", "x", "a,", "\n", "-->", '"', "é", "東"]
BLOCK = st.one_of(
    st.sampled_from(SHAPES),
    st.lists(st.sampled_from([*",;|\t\"'<>!-[]{}# =\nax", "é"]), min_size=1, max_size=6).map("".join),
)
TEXT = st.tuples(
    st.text(max_size=50), BLOCK, st.integers(1, 60_000), st.booleans(), st.text(max_size=50)
).map(lambda t: t[0] + (t[1] * t[2] + "\n") * (2 if t[3] else 1) + t[4])
ENCODED = st.tuples(st.sampled_from(list(LEADS.values())), TEXT, st.sampled_from(["utf-8", "utf-16"])).map(
    lambda t: t[0] + t[1].encode(t[2], errors="surrogatepass")
)
FORMATS = {formats.PDF, formats.DOCX, formats.PPTX, formats.XLSX, formats.HTML, formats.MD}
FORMATS |= {formats.CSV, formats.ASCIIDOC, formats.TEXT}
NAMES = st.sampled_from([None, "x.dat", "x.csv", "x.md", "x.txt", "x.adoc", "noext"])
FUZZ = settings(
    max_examples=200,
    deadline=timedelta(milliseconds=300),  # csv.Sniffer takes seconds on a few tens of KB
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(ENCODED, NAMES)
def test_detect_is_fast_on_any_input(data, name):
    try:
        assert formats.detect(data, name) in FORMATS
    except (formats.Unsupported, formats.Encrypted):
        pass


@pytest.mark.parametrize("lead", list(LEADS))
@pytest.mark.parametrize("shape", [',"a', "<!--", "<a>", "[", "{", "x"])
def test_detect_reads_a_bounded_sample_of_one_mb(lead, shape):
    """1 MB behind each lead: the answer is the lead's, whatever follows the sample."""
    line = shape * (500_000 // len(shape))
    data = LEADS[lead] + f"{line}\n{line}\n".encode()
    expected = {"text": formats.TEXT, "asciidoc": formats.ASCIIDOC, "markdown": formats.MD}.get(lead, lead)
    if lead in ("zip", "ole"):
        with pytest.raises(formats.Unsupported):
            formats.detect(data, "x.dat")
    else:
        assert formats.detect(data, "x.dat") == expected


def _csv(rows: int, cell: str = "value") -> bytes:
    return "".join(f"{i},{cell},{cell};x\n" for i in range(rows)).encode()


def test_csv_is_told_by_its_rows_not_its_name():
    assert formats.detect(_csv(3), "data.dat") == formats.CSV
    assert formats.detect(b"name;size\nab;1\ncd;2\n", None) == formats.CSV
    assert formats.detect(b'"a, quoted",b\n"c ""d""",e\n', None) == formats.CSV
    assert formats.detect(b"a\tb\tc\n1\t2\t3\n", None) == formats.CSV
    # Prose is not CSV: rows of different widths, or one field per row.
    assert formats.detect(b"Hello, world. Fine, thanks, and you?\nYes.\n", None) == formats.TEXT
    assert formats.detect(b"one\ntwo\nthree\n", None) == formats.TEXT
    assert formats.detect(_csv(3), "notes.txt") == formats.TEXT  # the name breaks the tie


def test_a_csv_past_the_sample_is_still_csv():
    """The sample's last line is cut mid-row: it is left out, not read as a row of another width."""
    data = _csv(20_000)
    assert len(data) > formats.SAMPLE_BYTES and formats.detect(data, None) == formats.CSV
    # Rows too long for the sample's lines are left out; the others decide.
    wide = "h1,h2\n" + "1," + "v" * (formats.SAMPLE_LINE_CHARS + 10) + "\n" + "a,b\n" * 3
    assert formats.detect(wide.encode(), None) == formats.CSV


@pytest.mark.parametrize(("char", "encoding"), [("é", "utf-8"), ("東", "utf-8"), ("😀", "utf-16")])
def test_a_character_cut_at_the_sample_end_is_not_binary(char, encoding):
    for shift in range(3):  # the sample's end falls inside a character for some of these
        data = ("a" * shift + char * formats.SAMPLE_BYTES).encode(encoding)
        assert formats.detect(data, None) == formats.TEXT, shift
    assert formats.detect("café au lait\n".encode("cp1252"), None) == formats.TEXT
    with pytest.raises(formats.Unsupported):
        formats.detect(b"\x00\x01\x02" * 100, None)


def test_is_pdf_is_the_header_rule_detect_uses():
    assert formats.is_pdf(b"junk" * 10 + b"%PDF-1.4")
    assert not formats.is_pdf(b" " * 2000 + b"%PDF-1.4")
    assert formats.detect(b"junk%PDF-1.4 ...", "x.txt") == formats.PDF


def test_office_formats_and_an_encrypted_one():
    for member, fmt in [("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx")]:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(member, "<x/>")
        assert formats.detect(buf.getvalue(), "x.bin") == fmt
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptedPackage".encode("utf-16-le")
    with pytest.raises(formats.Encrypted):
        formats.detect(ole, None)


_LAZY_COMMENT = re.compile(rb"<!--.*?-->", re.DOTALL)


@settings(max_examples=300, derandomize=True, deadline=timedelta(milliseconds=300))
@given(
    st.lists(st.sampled_from([b"<!--", b"-->", b"<", b"!", b"-", b">", b"a", b"<!-->", b"\n"]), max_size=60)
)
def test_office_comment_stripping_matches_the_lazy_pattern(parts):
    xml = b"".join(parts)
    assert office._without_comments(xml) == _LAZY_COMMENT.sub(b"", xml)


@settings(max_examples=20, derandomize=True, deadline=timedelta(milliseconds=500))
@given(st.sampled_from([b"<!--", b"<!-- a -->", b"<!---", b"<!--x"]), st.integers(1, 250_000))
def test_office_comment_stripping_is_linear(block, count):
    """1 MB of unclosed comments: a lazy pattern takes minutes on it (each one scans to the end)."""
    xml = block * count
    assert len(office._without_comments(xml)) <= len(xml)


def test_docling_sniffs_a_bounded_first_line_of_a_csv(monkeypatch):
    """The parse worker bounds Docling's dialect guess (compute.parsing.convert), through a private
    name of Docling's: this fails if Docling renames it and the bound silently goes."""
    import docling.backend.csv_backend as csv_backend

    import compute.parsing.convert as convert

    heads: list[int] = []
    monkeypatch.setattr(convert, "_docling_sniff", lambda head, read_sample: heads.append(len(head)))
    assert csv_backend._sniff_dialect is convert._bounded_sniff
    csv_backend._sniff_dialect(',"a' * 300_000, lambda: "a,b\n1,2\n")
    assert heads == [formats.SAMPLE_LINE_CHARS]


def test_parse_failures_name_no_path_of_this_host():
    from compute.parsing.convert import short_reason

    exc = ValueError("Invalid file /tmp/compute-123/worker-0-ab/input.pdf: no /Root at offset 12\nmore")
    assert short_reason(exc) == "Invalid file <path>: no /Root at offset 12"
    assert short_reason(OSError("/" + "a/" * 100_000)) == "<path>"
