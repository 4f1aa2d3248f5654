"""Record ids whose lexical order is their creation order, and the clock they are read from.

The clock is this process's own (time.time_ns), not Redis's: ids from different hosts order only as well
as their clocks agree, which is enough for listings by time and for keyset cursors.
"""

import secrets
import threading
import time

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
