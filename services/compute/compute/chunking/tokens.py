"""Token counting with the embedding model's own tokenizer, so chunk sizes mean what the model reads.

A Hugging Face fast tokenizer is not safe to share between threads: each call may reset the Rust
tokenizer's padding and truncation state, so a chunking thread could strip the padding an embedding
batch relies on ("Unable to create tensor"). Each thread therefore gets its own copy.
"""

import copy
import threading
from typing import Any


class TokenCounter:
    def __init__(self, tokenizer: Any, name: str):
        self._template = copy.deepcopy(tokenizer)  # never the embedding thread's instance
        self._local = threading.local()
        self.name = name

    @property
    def tokenizer(self) -> Any:
        tok = getattr(self._local, "tokenizer", None)
        if tok is None:
            tok = self._local.tokenizer = copy.deepcopy(self._template)
        return tok

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def count(self, text: str) -> int:
        return len(self.encode(text))


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
