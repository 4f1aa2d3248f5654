"""LlamaIndex splitters (sentence, token, hierarchical) and the heading-aware markdown strategy."""

import bisect
import re
from dataclasses import dataclass, field

from llama_index.core import Document
from llama_index.core.node_parser import HierarchicalNodeParser, SentenceSplitter, TokenTextSplitter
from llama_index.core.schema import NodeRelationship

from compute.chunking.tokens import TokenCounter, locate


@dataclass
class Piece:
    text: str
    char_start: int
    char_end: int
    heading_path: list[str] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    level: int = 0
    parent: int | None = None


def _sentence_splitter(counter: TokenCounter, max_tokens: int, overlap: int) -> SentenceSplitter:
    return SentenceSplitter(
        chunk_size=max_tokens,
        chunk_overlap=min(overlap, max_tokens // 2),
        tokenizer=counter.encode,
        include_metadata=False,
        include_prev_next_rel=False,
    )


def _split(splitter, text: str, offset: int = 0) -> list[Piece]:  # splitter: any llama-index splitter
    if not text.strip():
        return []
    pieces: list[Piece] = []
    cursor = 0
    for node in splitter.get_nodes_from_documents([Document(text=text)]):
        body = node.get_content()
        if not body.strip():
            continue
        if node.start_char_idx is not None and node.end_char_idx is not None:
            start, end = node.start_char_idx, node.end_char_idx
        else:
            start, end = locate(text, body, cursor)
        cursor = start + 1
        pieces.append(Piece(body, offset + start, offset + end))
    return pieces


def sentence(text: str, counter: TokenCounter, max_tokens: int, overlap: int) -> list[Piece]:
    return _split(_sentence_splitter(counter, max_tokens, overlap), text)


def token(text: str, counter: TokenCounter, max_tokens: int, overlap: int) -> list[Piece]:
    splitter = TokenTextSplitter(
        chunk_size=max_tokens,
        chunk_overlap=min(overlap, max_tokens // 2),
        tokenizer=counter.encode,
        include_metadata=False,
        include_prev_next_rel=False,
    )
    return _split(splitter, text)


def hierarchical(text: str, counter: TokenCounter, max_tokens: int, overlap: int) -> list[Piece]:
    """Three levels (4x, 2x, 1x max_tokens). Leaves are what to embed; parents give wider context."""
    sizes = [max_tokens * 4, max_tokens * 2, max_tokens]
    parsers = {str(s): _sentence_splitter(counter, s, overlap) for s in sizes}
    parser = HierarchicalNodeParser.from_defaults(
        node_parser_ids=[str(s) for s in sizes], node_parser_map=parsers, include_metadata=False
    )
    nodes = parser.get_nodes_from_documents([Document(text=text)]) if text.strip() else []
    index_of = {node.node_id: i for i, node in enumerate(nodes)}
    level_of: dict[str, int] = {}
    pieces: list[Piece] = []
    cursor = 0
    for node in nodes:
        parent_rel = node.relationships.get(NodeRelationship.PARENT)
        parent_id = parent_rel.node_id if parent_rel is not None else None
        level = level_of.get(parent_id, -1) + 1 if parent_id else 0
        level_of[node.node_id] = level
        body = node.get_content()
        start, end = locate(text, body, cursor if level else 0)
        pieces.append(
            Piece(body, start, end, level=level, parent=index_of.get(parent_id) if parent_id else None)
        )
    return pieces


# Linear on any line: the heading text is taken whole and its closing #s stripped in Python (a pattern
# like `(.+?)\s*#*\s*$` backtracks cubically on a long run of spaces). `[ \t]`, not `\s`: never across lines.
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*)$", re.MULTILINE)
_FENCE = re.compile(r"^```", re.MULTILINE)


def _fences(text: str) -> list[int]:
    """Offsets where fenced code opens and closes, alternating; a last, unclosed mark is no fence."""
    marks = [m.start() for m in _FENCE.finditer(text)]
    return marks[: len(marks) // 2 * 2]


def markdown_sections(text: str) -> list[tuple[list[str], int, str]]:
    """(heading path, offset, body) per markdown section; fenced code is not mistaken for headings."""
    fences = _fences(text)
    heads = []
    for m in _HEADING.finditer(text):
        title = m.group(2).rstrip(" \t#").strip()
        # Inside a fence when an odd number of fence marks precede the heading.
        if title and bisect.bisect_right(fences, m.start()) % 2 == 0:
            heads.append((m.start(), m.end(), len(m.group(1)), title))
    sections: list[tuple[list[str], int, str]] = []
    path: list[tuple[int, str]] = []
    start = 0
    for head_start, head_end, level, title in heads:
        if head_start > start:
            sections.append(([h for _, h in path], start, text[start:head_start]))
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, title))
        start = head_end
    sections.append(([h for _, h in path], start, text[start:]))
    return [s for s in sections if s[2].strip()]


def markdown(
    sections: list[tuple[list[str], int, str, list[int]]],
    counter: TokenCounter,
    max_tokens: int,
    overlap: int,
) -> list[Piece]:
    """Heading-aware: never crosses a section; a section past `max_tokens` is split by sentences."""
    splitter = _sentence_splitter(counter, max_tokens, overlap)
    pieces: list[Piece] = []
    for path, offset, body, pages in sections:
        if counter.count(body) <= max_tokens:
            lead = len(body) - len(body.lstrip())
            pieces.append(
                Piece(body.strip(), offset + lead, offset + lead + len(body.strip()), list(path), list(pages))
            )
            continue
        for piece in _split(splitter, body, offset):
            piece.heading_path, piece.pages = list(path), list(pages)
            pieces.append(piece)
    return pieces
