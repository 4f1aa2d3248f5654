"""How a pydantic model is kept as one Redis hash.

Scalars are stored as plain strings so Lua scripts can read and change single fields atomically; nested
values (payload, progress, error, metadata) are stored as JSON.
"""

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel


def utf8_encodable(value: Any) -> bool:
    """Whether every string in a JSON-like value (keys included) can be written as UTF-8. JSON's `\\ud800`
    decodes to a lone surrogate, which Redis's encoder and every response would refuse: such input is
    checked at the door, or one stored record would make each later read of it fail."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, Mapping):
        return all(utf8_encodable(k) and utf8_encodable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(utf8_encodable(item) for item in value)
    return True


class RedisRecord(BaseModel):
    """A pydantic model stored as one Redis hash."""

    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def to_redis(self) -> dict[str, str]:
        return encode_fields(self.model_dump(mode="json", exclude_none=True), self.JSON_FIELDS)

    @classmethod
    def from_redis(cls, raw: Mapping[str, str]) -> Self:
        values: dict[str, Any] = {
            k: json.loads(v) if k in cls.JSON_FIELDS else v for k, v in raw.items() if k in cls.model_fields
        }
        return cls.model_validate(values)


def pairs(flat: list[str]) -> dict[str, str]:
    """A flat [field, value, ...] reply (HGETALL inside a script) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def encode_fields(values: Mapping[str, Any], json_fields: frozenset[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if key in json_fields:
            out[key] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, bool):
            out[key] = "1" if value else "0"
        else:
            out[key] = str(value)
    return out
