"""Wire contracts between the orchestrator and the compute service.

Only pydantic models, constants and the small rules of the wire format itself live here; no I/O.
Both services import them, so a change to the wire format is one edit, seen by both sides and their
tests.
"""

from contracts.compute import (
    MAX_CHUNK_TOKENS,
    MAX_DOCUMENT_BYTES,
    MIN_CHUNK_TOKENS,
    PARSE_CHUNK_PARAMS,
    Chunk,
    ChunkOptions,
    ChunkRequest,
    ChunkResponse,
    ChunkStrategy,
    EmbedKind,
    EmbedRequest,
    EmbedResponse,
    MetadataMode,
    MetadataRequest,
    MetadataResponse,
    ModelInfo,
    ModelsResponse,
    OpenAIEmbeddingData,
    OpenAIEmbeddingRequest,
    OpenAIEmbeddingResponse,
    PageWindow,
    ParseResult,
    Section,
    Table,
)
from contracts.errors import ErrorBody, ErrorCode, ErrorEnvelope

REQUEST_ID_HEADER = "X-Request-ID"

__all__ = [
    "MAX_CHUNK_TOKENS",
    "MAX_DOCUMENT_BYTES",
    "MIN_CHUNK_TOKENS",
    "PARSE_CHUNK_PARAMS",
    "REQUEST_ID_HEADER",
    "Chunk",
    "ChunkOptions",
    "ChunkRequest",
    "ChunkResponse",
    "ChunkStrategy",
    "EmbedKind",
    "EmbedRequest",
    "EmbedResponse",
    "ErrorBody",
    "ErrorCode",
    "ErrorEnvelope",
    "MetadataMode",
    "MetadataRequest",
    "MetadataResponse",
    "ModelInfo",
    "ModelsResponse",
    "OpenAIEmbeddingData",
    "OpenAIEmbeddingRequest",
    "OpenAIEmbeddingResponse",
    "PageWindow",
    "ParseResult",
    "Section",
    "Table",
]
