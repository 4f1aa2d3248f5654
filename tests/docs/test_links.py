"""Every relative link in README.md, docs/*.md and bench/README.md names a file or folder that exists, and
every #anchor a heading of the page it points into (GitHub's slugs)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *(ROOT / "docs").glob("*.md")])

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
EXTERNAL = ("http://", "https://", "mailto:")


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are not links."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text as rendered, lower-cased, without punctuation but `-` and
    `_`, each space a `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "").lower()
    return "".join(c for c in text if c.isalnum() or c in "-_ ").replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    found: set[str] = set(HTML_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in HEADING.findall(text):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    text = prose(page.read_text())
    return INLINE_LINK.findall(text) + REFERENCE.findall(text)


def broken(page: Path, target: str) -> str | None:
    """Why the link does not resolve, or None."""
    path, _, anchor = target.partition("#")
    destination = (page.parent / path).resolve() if path else page
    if not destination.exists():
        return f"{path} does not exist"
    if ROOT not in destination.parents and destination != ROOT:
        return f"{path} is outside the repository"
    if anchor and destination.suffix != ".md":
        return f"#{anchor} points into {path}, which is not a Markdown page"
    if anchor and anchor not in anchors(destination):
        return f"{destination.relative_to(ROOT)} has no heading whose anchor is #{anchor}"
    return None


def test_slugs_are_githubs():
    assert slug("Orchestrator (`ORCH_`)") == "orchestrator-orch_"
    assert slug("2026-12-02: the job queue's durability cost (AMD EPYC)") == (
        "2026-12-02-the-job-queues-durability-cost-amd-epyc"
    )
    assert slug("The launcher (make run)") == "the-launcher-make-run"
    assert slug("See [the API](api.md) ≤ 2x") == "see-the-api--2x"


def test_the_pages_exist():
    assert (ROOT / "README.md") in PAGES and (ROOT / "bench" / "README.md").exists()
    assert len(PAGES) >= 4


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    problems = [
        f"{target}: {why}"
        for target in links(page)
        if not target.startswith(EXTERNAL) and (why := broken(page, target)) is not None
    ]
    assert not problems, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(problems)
