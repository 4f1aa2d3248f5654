"""Record ids whose lexical order is their creation order, the clock they are read from, and the one
check of ids a client hands back (record ids in paths, stream entry ids in cursors and Last-Event-ID).

The clock is this process's own (time.time_ns), not Redis's: ids from different hosts order only as well
as their clocks agree, which is enough for listings by time and for keyset cursors.
"""

import re
import secrets
import threading
import time

from orchestrator.errors import NotFound

# Ids made here are 24 hex digits; older or hand-made ones are short words. Never ':', which separates the
# parts of a Redis key (a job id `x:events` would name another job's event stream), nor anything else odd.
RECORD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_RECORD_ID = re.compile(RECORD_ID_PATTERN)
# A Redis stream entry id: milliseconds, then optionally a sequence, each an unsigned 64-bit integer.
STREAM_ID_PATTERN = r"^[0-9]{1,20}(-[0-9]{1,20})?$"
_STREAM_ID = re.compile(STREAM_ID_PATTERN)
_U64_MAX = 2**64 - 1

_id_lock = threading.Lock()
_last_id_ms = 0
_id_sequence = 0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    """A 24-hex-digit id whose lexical order is its creation order: ms clock, a sequence within the ms
    (so ids made by one process never tie), then 32 random bits (so processes do not collide)."""
    global _last_id_ms, _id_sequence
    with _id_lock:
        ms = max(now_ms(), _last_id_ms)
        _id_sequence = _id_sequence + 1 if ms == _last_id_ms else 0
        if _id_sequence > 0xFFFF:  # 65,536 ids in one ms: borrow the next ms
            ms, _id_sequence = ms + 1, 0
        _last_id_ms = ms
        return f"{ms:012x}{_id_sequence:04x}{secrets.token_hex(4)}"


def id_floor(epoch_ms: int) -> str:
    """The smallest id created at or after epoch_ms, for time-bounded listings."""
    return f"{epoch_ms:012x}"


def require_record_id(kind: str, value: str) -> None:
    """No record has an odd id: one such as `x:events` would name another record's keys. NotFound,
    as for any id the registry does not hold."""
    if not is_record_id(value):
        raise NotFound(f"{kind} {value[:80]!r} not found")


def is_record_id(value: str) -> bool:
    return _RECORD_ID.fullmatch(value) is not None


def is_stream_id(value: str) -> bool:
    """Whether Redis would take `value` as a stream entry id (XRANGE, XREAD) without an error."""
    if _STREAM_ID.fullmatch(value) is None:
        return False
    return all(int(part) <= _U64_MAX for part in value.split("-"))


def stream_id_key(value: str) -> tuple[int, int]:
    """A stream entry id (already checked) as a tuple that orders like the ids do."""
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)
