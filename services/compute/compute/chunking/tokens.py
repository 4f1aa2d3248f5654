"""Token counting with the embedding model's own tokenizer, so chunk sizes mean what the model reads."""

from dataclasses import dataclass
from typing import Any


@dataclass
class TokenCounter:
    tokenizer: Any  # a Hugging Face fast tokenizer
    name: str

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
