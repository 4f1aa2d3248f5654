"""Document parsing: format detection, a killable worker process, Docling conversion, result shaping.

Nothing imported here loads Docling: only a parse worker does (`worker` imports `convert`). Each parse
worker is a fresh process that imports this package on its way to `worker`, so the names below load on
first use: the pool (and FastAPI behind its errors) never enters a worker."""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from compute.parsing import plain
    from compute.parsing.pool import ParseJob, ParsePool
    from compute.parsing.windows import Continuation, InvalidContinuation

_HOMES = {
    "plain": "compute.parsing.plain",
    "ParseJob": "compute.parsing.pool",
    "ParsePool": "compute.parsing.pool",
    "Continuation": "compute.parsing.windows",
    "InvalidContinuation": "compute.parsing.windows",
}

__all__ = ["Continuation", "InvalidContinuation", "ParseJob", "ParsePool", "plain"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = import_module(home)
    return module if home.endswith(f".{name}") else getattr(module, name)
