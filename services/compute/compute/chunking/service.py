"""One entry point for /chunk: picks the strategy, sizes it, and shapes pieces into the contract."""

import compute.chunking.splitters as splitters
from compute.chunking.splitters import Piece
from compute.chunking.tokens import TokenCounter, locate
from compute.errors import ComputeError
from contracts import Chunk, ChunkRequest, ChunkResponse, ChunkStrategy, ErrorCode


def _document_sections(req: ChunkRequest) -> list[tuple[list[str], int, str, list[int]]]:
    assert req.document is not None
    source = req.document.text
    out = []
    cursor = 0
    for section in req.document.sections:
        start, _ = locate(source, section.text[:200], cursor)
        cursor = start
        pages = [section.page] if section.page else []
        out.append((section.heading_path, start, section.text, pages))
    return out


def _chunk(
    req: ChunkRequest, counter: TokenCounter, model_max_tokens: int, max_text_chars: int, max_chunks: int
) -> ChunkResponse:
    max_tokens = req.max_tokens or model_max_tokens
    overlap = min(req.overlap_tokens, max_tokens // 2)
    text = req.text if req.text is not None else req.document.text  # type: ignore[union-attr]
    if len(text) > max_text_chars:
        raise ComputeError(
            ErrorCode.too_large, f"text of {len(text)} characters; the limit is {max_text_chars}"
        )

    strategy = req.strategy
    pieces: list[Piece]
    if strategy == ChunkStrategy.docling_hybrid:
        if req.document is None or req.document.document is None:
            raise ComputeError(
                ErrorCode.invalid_request,
                "docling_hybrid needs `document` with its DoclingDocument (parse with include_document=true)",
            )
        from compute.chunking.hybrid import docling_hybrid  # docling-core import only when asked for

        try:
            pieces = docling_hybrid(req.document.document, text, counter.tokenizer, max_tokens)
        except ValueError as exc:
            raise ComputeError(
                ErrorCode.invalid_request, f"document is not a valid DoclingDocument: {exc}"
            ) from exc
    elif strategy == ChunkStrategy.markdown:
        if req.text is None and req.document is not None and req.document.sections:
            sections = _document_sections(req)
        else:
            sections = [(path, start, body, []) for path, start, body in splitters.markdown_sections(text)]
        _check_count(
            len(sections), max_chunks
        )  # each section is one chunk at least: refuse before tokenising
        pieces = splitters.markdown(sections, counter, max_tokens, overlap)
    elif strategy == ChunkStrategy.sentence:
        pieces = splitters.sentence(text, counter, max_tokens, overlap)
    elif strategy == ChunkStrategy.token:
        pieces = splitters.token(text, counter, max_tokens, overlap)
    else:
        pieces = splitters.hierarchical(text, counter, max_tokens, overlap)
    _check_count(len(pieces), max_chunks)
    return _response(strategy, max_tokens, counter, pieces)


def chunk(
    req: ChunkRequest, counter: TokenCounter, model_max_tokens: int, max_text_chars: int, max_chunks: int
) -> ChunkResponse:
    try:
        return _chunk(req, counter, model_max_tokens, max_text_chars, max_chunks)
    except TimeoutError as exc:
        # nltk's sentence tokenizer runs its patterns under a time limit; text made of tens of thousands
        # of one-letter sentences (or worse) exceeds it. An input problem, not a service failure.
        raise ComputeError(
            ErrorCode.invalid_request, "the text could not be split into sentences within the time limit"
        ) from exc


def _check_count(chunks: int, max_chunks: int) -> None:
    if chunks > max_chunks:
        raise ComputeError(
            ErrorCode.too_large, f"the text makes {chunks} chunks at least; the limit is {max_chunks}"
        )


def _response(
    strategy: ChunkStrategy, max_tokens: int, counter: TokenCounter, pieces: list[Piece]
) -> ChunkResponse:
    chunks = [
        Chunk(
            index=i,
            text=p.text,
            heading_path=p.heading_path,
            pages=p.pages,
            char_start=p.char_start,
            char_end=p.char_end,
            token_count=counter.count(p.text),
            level=p.level,
            parent_index=p.parent,
        )
        for i, p in enumerate(pieces)
    ]
    return ChunkResponse(strategy=strategy, max_tokens=max_tokens, tokenizer=counter.name, chunks=chunks)
