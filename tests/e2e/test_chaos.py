"""The 60-second chaos run (bench/chaos, `make chaos` shortened) with a fixed seed: its own stack (make
run's, a second compute replica, two worker processes), a seeded load, and kill -9 of a compute replica,
a worker, Chroma and Redis plus a SIGSTOP of a worker past its lease. Every check must be 0, and every
fault kind and every operation must have happened, so the run cannot pass by doing nothing.

It runs as a subprocess (its services are its own process groups; a SIGTERM makes it stop them)."""

import json
import os
import signal
import subprocess
import sys

import pytest

from bench.chaos.faults import KINDS
from bench.chaos.load import OPERATIONS
from tests.support import REPO

CHAOS_S = 60
SEED = 20261202
SETTLE_S = 120
# Stack start (two replicas load their models) + the run + settle + stop, with room for a slow machine.
RUN_TIMEOUT_S = 540


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_sixty_seconds_of_chaos_break_no_invariant(tmp_path) -> None:
    out = tmp_path / "chaos.json"
    argv = [sys.executable, "-m", "bench.chaos", "--duration-s", str(CHAOS_S), "--seed", str(SEED)]
    argv += ["--settle-s", str(SETTLE_S), "--out", str(out), "--workdir", str(tmp_path)]
    process = subprocess.Popen(argv, cwd=REPO, env=os.environ.copy(), stdout=subprocess.DEVNULL)
    try:
        code = process.wait(RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.wait(120)
        raise
    result = json.loads(out.read_text())

    failed = {name: n for name, n in result["checks"].items() if n}
    assert not failed, (
        f"checks not 0: {failed}; logs in {result['logs']}; examples: {json.dumps(result['examples'])[:4000]}"
    )
    assert code == 0
    missing_faults = [kind for kind in KINDS if not result["faults"].get(kind)]
    assert not missing_faults, f"faults never injected: {missing_faults} ({result['fault_log']})"
    never_done = [
        op
        for op in OPERATIONS
        if not any(outcome.startswith("2") for outcome in result["operations"].get(op, {}))
    ]
    assert not never_done, f"operations that never succeeded: {never_done} ({result['operations']})"
    assert result["searches"]["hits_checked"] > 0
    print(f"\n[e2e] chaos seed {SEED}: faults {result['faults']}, {result['acknowledged']} acknowledged")
