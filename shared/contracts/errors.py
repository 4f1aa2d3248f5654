"""The error envelope every service answers with, and the stable codes it may carry."""

from enum import StrEnum

from pydantic import BaseModel


class ErrorCode(StrEnum):
    # Input problems: permanent, a retry gives the same answer.
    invalid_request = "invalid_request"
    unsupported_format = "unsupported_format"
    corrupt_document = "corrupt_document"
    encrypted_document = "encrypted_document"
    empty_document = "empty_document"
    too_large = "too_large"
    memory_limit = "memory_limit"
    unknown_model = "unknown_model"
    unauthorized = "unauthorized"
    not_found = "not_found"
    conflict = "conflict"
    # Capacity and time: retryable, possibly on another replica.
    timeout = "timeout"
    overloaded = "overloaded"
    not_ready = "not_ready"
    upstream_error = "upstream_error"
    internal = "internal"
    # A parse worker killed from outside (the OOM killer, an operator) mid-document: try again.
    worker_lost = "worker_lost"


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str
    retryable: bool = False


class ErrorEnvelope(BaseModel):
    error: ErrorBody
