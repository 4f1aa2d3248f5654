"""Plain text to the ParseResult fields: paragraphs split on blank lines, one section, no pages.

Pure Python with no Docling import, so the API process parses a small text file itself (`inline`),
without the round trip through a parse worker: for one abstract per file that round trip cost more than
the parse. Every step is linear in the input; larger files still go to a worker, under its caps.
"""

import re
import time

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


def decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def paragraphs(text: str) -> list[str]:
    return [p for p in (part.strip() for part in _BLANK_LINE.split(text.replace("\r\n", "\n"))) if p]


def parse_result(data: bytes) -> dict:
    started = time.perf_counter()
    text = "\n\n".join(paragraphs(decode(data)))
    return {
        "format": "text",
        "pages": 0,
        "markdown": text,
        "text": text,
        "sections": [{"heading_path": [], "page": None, "text": text}] if text else [],
        "tables": [],
        "metadata": {"name": "document"},
        "warnings": [] if text else ["no text extracted"],
        "pipeline": "text",
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
