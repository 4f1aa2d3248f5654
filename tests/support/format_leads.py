"""The first bytes of each branch of compute's format detection, for tests that put hostile text behind
every one of them."""

LEADS = {
    "text": b"",
    "pdf": b"%PDF-1.7\n",
    "zip": b"PK\x03\x04",
    "ole": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    "html": b"<html><body>",
    "markdown": b"# Title\n\n",
    "asciidoc": b"= Title\n== Part\n",
    "csv": b"a,b\n1,2\n",
}
