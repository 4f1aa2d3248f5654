"""Wire contracts between the orchestrator and the compute service.

Only pydantic models and constants live here: no logic, no I/O. Both services import them so a
change to the wire format is one edit, seen by both sides and their tests.
"""

from contracts.compute import (
    Chunk,
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
    "REQUEST_ID_HEADER",
    "Chunk",
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
