"""The parse pool's housekeeping, without a service: directories left by a killed pool are swept."""

import os

from compute.parsing.pool import ROOT_PREFIX, _sweep_orphans


def test_orphaned_pool_directories_are_swept(tmp_path):
    dead = tmp_path / f"{ROOT_PREFIX}999999999-abc"  # no such process
    live = tmp_path / f"{ROOT_PREFIX}{os.getpid()}-def"
    for path in (dead, live):
        (path / "worker-0-x").mkdir(parents=True)
    _sweep_orphans(tmp_path)
    assert not dead.exists() and live.exists()
