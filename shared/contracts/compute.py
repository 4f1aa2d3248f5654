"""Requests and responses of the compute service (/parse, /chunk, /embed, /extract-metadata, /models)."""

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator


class Section(BaseModel):
    heading_path: list[str] = Field(default_factory=list)
    page: int | None = None
    text: str


class Table(BaseModel):
    page: int | None = None
    markdown: str
    num_rows: int = 0
    num_cols: int = 0


class PageWindow(BaseModel):
    """A run of pages of a PDF, 1-based and inclusive."""

    first_page: int = Field(ge=1)
    last_page: int = Field(ge=1)


class ParseResult(BaseModel):
    format: str
    pages: int = 0  # of the whole document, also when this answer covers one window of it
    markdown: str
    text: str
    sections: list[Section] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    pages_without_text: list[int] = Field(default_factory=list)
    pipeline: str = ""
    duration_ms: float = 0.0
    # Set when the request asked for a window of a PDF: the pages this answer covers. None: all of them.
    window: PageWindow | None = None
    # What the request for the next window sends back (`continuation` form field): the heading levels
    # and open headings so far, so that headings read the same as in one parse of the whole document.
    continuation: dict[str, Any] | None = None
    # True when this window's first section goes on from the previous window's last one.
    continues_section: bool = False
    # DoclingDocument as JSON, only when asked for (`include_document=true`): the docling_hybrid
    # chunker needs it, and it is several times the size of the markdown.
    document: dict[str, Any] | None = None
    # The chunks /chunk would make of this answer, when the request asked for them (`chunk_strategy`)
    # and the answer covers the whole document (not one window of several): one round trip fewer.
    chunked: "ChunkResponse | None" = None

    def covers_whole_document(self) -> bool:
        return self.window is None or (self.window.first_page == 1 and self.window.last_page >= self.pages)


class ChunkStrategy(StrEnum):
    sentence = "sentence"
    token = "token"
    markdown = "markdown"
    hierarchical = "hierarchical"
    docling_hybrid = "docling_hybrid"


# The largest document either service takes: the API refuses at its door what compute would refuse.
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
# The chunk sizes, in word pieces, any chunking request may ask for.
MIN_CHUNK_TOKENS = 16
MAX_CHUNK_TOKENS = 8192


def _is_none(value: object) -> bool:
    return value is None


class ChunkOptions(BaseModel):
    """How a document is cut into chunks, in one shape from an upload or a collection down to compute.
    A field left unset takes the next layer's value: an upload's or re-ingest's options, then its
    collection's, then the service's defaults. Unset fields are left out when serialized."""

    strategy: ChunkStrategy | None = Field(None, exclude_if=_is_none)
    max_tokens: int | None = Field(
        None,
        ge=MIN_CHUNK_TOKENS,
        le=MAX_CHUNK_TOKENS,
        exclude_if=_is_none,
        description="word pieces of the embedding model's tokenizer per chunk; unset: what the model reads",
    )

    def over(self, defaults: "ChunkOptions") -> "ChunkOptions":
        """These options, with what they leave unset taken from `defaults`."""
        return ChunkOptions(
            strategy=self.strategy or defaults.strategy, max_tokens=self.max_tokens or defaults.max_tokens
        )


# The /parse query parameters that ask for the chunks with the parse, by ChunkOptions field.
PARSE_CHUNK_PARAMS = {"strategy": "chunk_strategy", "max_tokens": "chunk_max_tokens"}


class ChunkRequest(ChunkOptions):
    """Give `text` (plain or markdown) or `document` (a ParseResult); the strategy decides which it reads."""

    text: str | None = None
    document: ParseResult | None = None
    strategy: ChunkStrategy = ChunkStrategy.markdown
    overlap_tokens: int = Field(default=32, ge=0, le=1024)

    @model_validator(mode="after")
    def _one_input(self) -> "ChunkRequest":
        if self.text is None and self.document is None:
            raise ValueError("give `text` or `document`")
        return self


class Chunk(BaseModel):
    index: int
    text: str
    heading_path: list[str] = Field(default_factory=list)
    pages: list[int] = Field(default_factory=list)
    char_start: int  # offsets into the text that was chunked (the request's text, or document.text)
    char_end: int
    token_count: int  # word pieces of the embedding model's tokenizer, special tokens excluded
    # hierarchical only: 0 is the widest level; leaves (the deepest level) are what to embed.
    level: int = 0
    parent_index: int | None = None


class ChunkResponse(BaseModel):
    strategy: ChunkStrategy
    max_tokens: int
    tokenizer: str
    chunks: list[Chunk]


class EmbedKind(StrEnum):
    passage = "passage"
    query = "query"


class EmbedRequest(BaseModel):
    texts: list[str] = Field(min_length=1)
    model: str | None = None
    kind: EmbedKind = EmbedKind.passage
    normalize: bool = True


class EmbedResponse(BaseModel):
    model: str
    dim: int
    embeddings: list[list[float]]
    # Per text: true when it was longer than the model reads and its tail was ignored.
    truncated: list[bool]


class OpenAIEmbeddingRequest(BaseModel):
    input: str | list[str]
    model: str | None = None
    encoding_format: Literal["float"] = "float"
    user: str | None = None


class OpenAIEmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float]


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class OpenAIEmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[OpenAIEmbeddingData]
    model: str
    usage: OpenAIUsage


class MetadataMode(StrEnum):
    local = "local"
    llm = "llm"
    auto = "auto"  # llm when configured, else local


class MetadataRequest(BaseModel):
    text: str | None = None
    document: ParseResult | None = None
    mode: MetadataMode = MetadataMode.auto
    max_keywords: int = Field(default=10, ge=1, le=50)
    summary_sentences: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="after")
    def _one_input(self) -> "MetadataRequest":
        if self.text is None and self.document is None:
            raise ValueError("give `text` or `document`")
        return self


class MetadataResponse(BaseModel):
    title: str | None = None
    language: str | None = None
    keywords: list[str] = Field(default_factory=list)
    summary: str = ""
    entities: dict[str, list[str]] = Field(default_factory=dict)
    word_count: int = 0
    page_count: int = 0
    dates: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    urls: list[str] = Field(default_factory=list)
    mode: MetadataMode
    # Set when the LLM mode was asked for but the answer came from the local extractor.
    fallback_reason: str | None = None


class ModelInfo(BaseModel):
    name: str
    path: str
    dim: int
    max_seq_length: int
    backend: str  # "torch" or "onnxruntime"
    dtype: str  # "float32", "bfloat16" or "int8"
    default: bool = False
    # Why this backend: what was asked for and the load-time figures (speed-up, agreement with fp32).
    selection: str | None = None


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    cpu_bf16: bool
    threads: int
    cpu_vnni: bool | None = None  # int8 dot products in hardware (int8 then runs without reduce_range)
    cpu_model: str | None = None


ParseResult.model_rebuild()  # `chunked` names ChunkResponse, defined after it
