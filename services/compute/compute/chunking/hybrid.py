"""Docling's HybridChunker on a DoclingDocument, with the embedding model's tokenizer and max_tokens."""

from typing import Any

from docling_core.transforms.chunker.hybrid_chunker import HybridChunker
from docling_core.transforms.chunker.tokenizer.huggingface import HuggingFaceTokenizer
from docling_core.types.doc import DoclingDocument

from compute.chunking.splitters import Piece
from compute.chunking.tokens import locate


def docling_hybrid(
    document: dict[str, Any], source_text: str, hf_tokenizer: Any, max_tokens: int
) -> list[Piece]:
    doc = DoclingDocument.model_validate(document)
    chunker = HybridChunker(tokenizer=HuggingFaceTokenizer(tokenizer=hf_tokenizer, max_tokens=max_tokens))
    pieces: list[Piece] = []
    cursor = 0
    for chunk in chunker.chunk(dl_doc=doc):
        text = chunk.text
        if not text.strip():
            continue
        pages = sorted({p.page_no for item in chunk.meta.doc_items for p in (item.prov or [])})
        start, end = locate(source_text, text, cursor)
        cursor = start + 1
        pieces.append(Piece(text, start, end, list(chunk.meta.headings or []), pages))
    return pieces
