"""Token counting with the embedding model's own tokenizer, so chunk sizes mean what the model reads.

A fast tokenizer is not safe to share between threads (a call may reset the Rust tokenizer's padding,
and an embedding batch then fails with "Unable to create tensor"): each thread gets its own copy. One
call into the Rust tokenizer holds the GIL (a megabyte held the event loop past 100 ms); a tokenizer
that splits on whitespace first (BERT's, MiniLM's) gives the same ids for a text cut at whitespace, so a
long text is encoded a piece at a time.
"""

import copy
import re
import threading
from typing import Any

PIECE_CHARS = 16_384
WHITESPACE_SPLITTING = ("BertPreTokenizer", "Whitespace", "WhitespaceSplit")
_SPACE = re.compile(r"\s")


class TokenCounter:
    def __init__(self, tokenizer: Any, name: str):
        self._template = copy.deepcopy(tokenizer)  # never the embedding thread's instance
        self._local = threading.local()
        self.name = name
        backend = getattr(tokenizer, "backend_tokenizer", None)
        pre = type(getattr(backend, "pre_tokenizer", None)).__name__
        self._cut_at_whitespace = pre in WHITESPACE_SPLITTING

    @property
    def tokenizer(self) -> Any:
        tok = getattr(self._local, "tokenizer", None)
        if tok is None:
            tok = self._local.tokenizer = copy.deepcopy(self._template)
        return tok

    def encode(self, text: str) -> list[int]:
        tok = self.tokenizer
        if len(text) <= PIECE_CHARS or not self._cut_at_whitespace:
            return tok.encode(text, add_special_tokens=False)
        ids: list[int] = []
        for piece in _pieces(text):
            ids.extend(tok.encode(piece, add_special_tokens=False))
        return ids

    def count(self, text: str) -> int:
        return len(self.encode(text))


def _pieces(text: str) -> list[str]:
    """`text` cut at whitespace into pieces of about PIECE_CHARS (longer where a piece has none)."""
    out, start = [], 0
    while len(text) - start > PIECE_CHARS:
        cut = start + PIECE_CHARS
        found = _SPACE.search(text, cut)
        end = found.start() if found else len(text)
        out.append(text[start:end])
        start = end
    out.append(text[start:])
    return out


def locate(source: str, piece: str, cursor: int) -> tuple[int, int]:
    """Where `piece` sits in `source`, searching from `cursor`; splitters may trim whitespace."""
    probe = piece.strip()
    if not probe:
        return cursor, cursor
    at = source.find(probe, cursor)
    if at < 0:
        at = source.find(probe)
    if at < 0:
        head = probe[:40]
        at = source.find(head, cursor)
        if at < 0:
            return cursor, min(len(source), cursor + len(probe))
    return at, at + len(probe)
