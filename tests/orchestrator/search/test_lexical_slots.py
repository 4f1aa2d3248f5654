"""Slots: each process on a machine claims its own lexical index directory, freed when it dies."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.search.lexical import claim_slot

CLAIM_AND_WAIT = """
import sys, time
from pathlib import Path
from orchestrator.search.lexical import claim_slot
slot = claim_slot(Path(sys.argv[1]))
print(slot.path.name, flush=True)
time.sleep(600)
"""


def test_two_claims_get_different_slots(tmp_path: Path) -> None:
    first, second = claim_slot(tmp_path), claim_slot(tmp_path)
    try:
        assert (first.path.name, second.path.name) == ("slot-0", "slot-1")
        assert first.path.is_dir() and second.path.is_dir()
    finally:
        first.release()
        second.release()


def test_a_released_slot_is_claimed_again_with_what_it_holds(tmp_path: Path) -> None:
    first, second = claim_slot(tmp_path), claim_slot(tmp_path)
    (first.path / "kept").write_text("cursor")
    first.release()
    first.release()  # idempotent
    try:
        again = claim_slot(tmp_path)
        assert again.path == first.path
        assert (again.path / "kept").read_text() == "cursor"
        again.release()
    finally:
        second.release()


def test_a_killed_process_frees_its_slot(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CLAIM_AND_WAIT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "slot-0"
        mine = claim_slot(tmp_path)
        assert mine.path.name == "slot-1"  # the child holds slot-0
        mine.release()

        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)

        deadline = time.monotonic() + 30  # the OS drops the lock with the process; wait generously
        while (claimed := claim_slot(tmp_path)).path.name != "slot-0" and time.monotonic() < deadline:
            claimed.release()
            time.sleep(0.05)
        assert claimed.path.name == "slot-0"
        claimed.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
