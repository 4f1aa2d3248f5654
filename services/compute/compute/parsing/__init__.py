"""Document parsing: format detection, a killable worker process, Docling conversion, result shaping.

Nothing imported here loads Docling: only a parse worker does (`worker` imports `convert`)."""

from compute.parsing import plain
from compute.parsing.pool import ParseJob, ParsePool
from compute.parsing.windows import Continuation, InvalidContinuation

__all__ = ["Continuation", "InvalidContinuation", "ParseJob", "ParsePool", "plain"]
