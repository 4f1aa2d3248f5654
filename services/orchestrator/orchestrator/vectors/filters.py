"""A search's `filters`: the part of Chroma's `where` grammar users may send, within bounds, checked before
anything is sent to Chroma or the lexical index (InvalidFilter, 422, with a fixed message).

A filter is `{field: scalar}`, `{field: {op: operand}}` or `{"$and" | "$or": [filter, filter, ...]}`.
Depth: a comparison is level 1; each `$and`/`$or` around it adds one. Operands: the values a filter
compares against (one per comparison, one per value of an `$in`/`$nin` list), summed over the filter.
"""

from collections.abc import Mapping
from typing import Any

from orchestrator.errors import OrchErrorCode, VectorStoreError
from orchestrator.vectors.chunk_records import storable_scalar

MAX_FILTER_DEPTH = 8
MAX_FILTER_OPERANDS = 256
LOGICAL = frozenset({"$and", "$or"})
ORDERING = frozenset({"$gt", "$gte", "$lt", "$lte"})
EQUALITY = frozenset({"$eq", "$ne"})
MEMBERSHIP = frozenset({"$in", "$nin"})


class InvalidFilter(VectorStoreError):
    """A filter past a limit, or outside the grammar Chroma accepts (422)."""

    def __init__(self, message: str):
        super().__init__(OrchErrorCode.invalid_filter, message)


def check_filter(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The filter unchanged when it fits the grammar and the limits (None or {}: no filter); else
    InvalidFilter. Walks at most MAX_FILTER_DEPTH levels and MAX_FILTER_OPERANDS values."""
    if not where:
        return None
    _Walk().clause(where, 1)
    return dict(where)


class _Walk:
    def __init__(self) -> None:
        self.operands = 0

    def count(self, n: int) -> None:
        self.operands += n
        if self.operands > MAX_FILTER_OPERANDS:
            raise InvalidFilter(
                f"a filter compares against at most {MAX_FILTER_OPERANDS} values "
                "(each comparison and each value of an $in or $nin list counts one)"
            )

    def clause(self, where: Any, depth: int) -> None:
        if depth > MAX_FILTER_DEPTH:
            raise InvalidFilter(f"a filter nests at most {MAX_FILTER_DEPTH} levels deep")
        if not isinstance(where, dict) or len(where) != 1:
            raise InvalidFilter(
                "each filter clause is an object of exactly one field or $and/$or "
                '(join several with {"$and": [...]})'
            )
        ((key, value),) = where.items()
        if key in LOGICAL:
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidFilter("$and and $or take a list of at least two filter clauses")
            for item in value:
                self.clause(item, depth + 1)
            return
        if not isinstance(key, str) or not key or key.startswith(("$", "#")):
            raise InvalidFilter("a filter field is a metadata key (not empty, not starting with $ or #)")
        if isinstance(value, dict):
            self.operator(value)
        else:
            _scalar(value)
            self.count(1)

    def operator(self, expression: dict[Any, Any]) -> None:
        if len(expression) != 1:
            raise InvalidFilter("a field's operator object holds exactly one operator")
        ((op, operand),) = expression.items()
        if op in MEMBERSHIP:
            if not isinstance(operand, list) or not operand:
                raise InvalidFilter("$in and $nin take a non-empty list")
            self.count(len(operand))  # before the values are read: a huge list stops here
            for value in operand:
                _scalar(value)
            if len({type(value) for value in operand}) > 1:
                raise InvalidFilter("the values of an $in or $nin list are all of one type")
            return
        if op in ORDERING:
            if isinstance(operand, bool) or not isinstance(operand, int | float):
                raise InvalidFilter("$gt, $gte, $lt and $lte compare with a number")
        elif op not in EQUALITY:
            raise InvalidFilter("a filter operator is one of $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin")
        _scalar(operand)
        self.count(1)


def _scalar(value: Any) -> None:
    if not storable_scalar(value):
        raise InvalidFilter("filter values are strings, booleans, 64-bit integers or finite numbers")
