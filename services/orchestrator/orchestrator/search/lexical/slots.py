"""Which lexical index directory this process owns: every API process on a machine keeps its own index
under one base directory, in `slot-N`, held by an exclusive flock on `slot-N.lock`.

The OS releases a flock when its process dies, however it dies, so a restarted process takes a free slot
again, usually the one it had (the lowest free), and finds its index and cursor there: it replays the
changes since instead of rebuilding. A slot's directory is never deleted: its index is reused.
"""

import fcntl
import os
from pathlib import Path

from orchestrator.errors import OrchestratorError

MAX_SLOTS = 256  # more API processes than this on one machine is a misconfiguration, not a need


class Slot:
    def __init__(self, path: Path, lock_fd: int):
        self.path = path  # the index directory this process owns
        self._lock_fd: int | None = lock_fd

    def release(self) -> None:
        """Frees the slot for another process (idempotent); closing the descriptor drops the flock."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> "Slot":
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def claim_slot(base_dir: Path) -> Slot:
    """The lowest slot under `base_dir` no live process holds, now held by this one."""
    base_dir.mkdir(parents=True, exist_ok=True)
    for number in range(MAX_SLOTS):
        path = base_dir / f"slot-{number}"
        fd = os.open(base_dir / f"slot-{number}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        path.mkdir(exist_ok=True)
        return Slot(path, fd)
    raise OrchestratorError(
        f"all {MAX_SLOTS} lexical index slots under {base_dir} are held by live processes"
    )
