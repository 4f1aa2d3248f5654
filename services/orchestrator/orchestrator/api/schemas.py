"""Request and response bodies of /api/v1 (the domain's records and results are returned as they are)."""

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator

from contracts import ChunkOptions
from orchestrator.catalog.model import Collection
from orchestrator.core.redis_hashes import utf8_encodable
from orchestrator.search import SearchHit, SearchMode
from orchestrator.vectors import MAX_FILTER_DEPTH, MAX_FILTER_OPERANDS

# Lower case letters, digits, '-' and '_', starting with a letter or digit, 2 to 63 characters.
COLLECTION_NAME = r"^[a-z0-9][a-z0-9_-]{1,62}$"


def _utf8(value: Any) -> Any:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not utf8_encodable(raw):
        raise ValueError("text must be valid UTF-8 (no lone surrogates)")
    return value


# A JSON object whose strings can all be stored; the metadata rule itself (keys, sizes, nesting, the
# whole's bytes) is the domain's, answered as 422 invalid_metadata (vectors.check_user_metadata).
Metadata = Annotated[dict[str, Any], AfterValidator(_utf8)]


class CollectionCreate(BaseModel):
    name: str = Field(pattern=COLLECTION_NAME, description="lower case letters, digits, - and _; 2-63 long")
    metadata: Metadata = Field(default_factory=dict)
    embedding_model: str | None = None  # compute's default model when absent
    chunking: ChunkOptions = Field(default_factory=ChunkOptions)
    extract_metadata: bool = False  # also extract title, language, keywords and a summary per document


class CollectionPatch(BaseModel):
    metadata: Metadata


class CollectionOut(Collection):
    document_count: int = 0
    chunk_count: int = 0  # chunks of the searchable generations of its documents


class CollectionDeleted(BaseModel):
    name: str
    job_id: str


class UploadAccepted(BaseModel):
    document_id: str
    job_id: str | None
    duplicate: bool = False  # the bytes matched a document already in the collection


class DocumentPatch(BaseModel):
    metadata: dict[str, Any] = Field(description="keys to set; a null value removes the key")


class ReingestRequest(BaseModel):
    chunking: ChunkOptions | None = None
    # Opens an encrypted PDF: for this re-ingest's job only, never kept, logged or answered.
    password: Annotated[SecretStr, AfterValidator(_utf8)] | None = Field(
        None, min_length=1, max_length=1024, json_schema_extra={"writeOnly": True}
    )


class JobAccepted(BaseModel):
    job_id: str
    document_id: str | None = None


class FusionWeightsRequest(BaseModel):
    dense: float | None = Field(None, ge=0, le=100)
    lexical: float | None = Field(None, ge=0, le=100)


class FusionRequest(BaseModel):
    """Reciprocal rank fusion's parameters for this request; what is left out keeps the server's default."""

    k: float | None = Field(None, gt=0, le=10_000)
    weights: FusionWeightsRequest = Field(default_factory=FusionWeightsRequest)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("query must hold something other than white space")
    return value


class SearchRequest(BaseModel):
    query: Annotated[str, AfterValidator(_not_blank)] = Field(min_length=1, max_length=4_000)
    collections: list[str] = Field(min_length=1, max_length=32)
    top_k: int = Field(10, ge=1, le=1_000)
    mode: SearchMode = SearchMode.hybrid
    filters: dict[str, Any] | None = Field(
        None,
        description=f"a Chroma `where` on document metadata: at most {MAX_FILTER_DEPTH} levels deep and "
        f"{MAX_FILTER_OPERANDS} compared values (422 `invalid_filter`)",
    )
    min_score: float | None = Field(None, ge=-1, le=1, description="a cosine floor: dense mode only")
    fusion: FusionRequest | None = Field(None, description="hybrid mode: k and weights of the fusion")

    @model_validator(mode="after")
    def _options_fit_the_mode(self) -> "SearchRequest":
        if self.min_score is not None and self.mode is not SearchMode.dense:
            raise ValueError("min_score is a cosine floor: it applies to mode dense only")
        weights = self.fusion.weights if self.fusion is not None else None
        if weights is not None and weights.dense == 0 and weights.lexical == 0:
            raise ValueError("fusion weights cannot both be 0")
        return self


class SearchResponse(BaseModel):
    query: str
    mode: SearchMode
    results: list[SearchHit]
