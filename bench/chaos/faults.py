"""The seeded fault scheduler. At random gaps it picks a fault and runs it in its own thread, holding the
target's lock from the injection until the target is ready again:
- kill_compute: kill -9 one compute replica (its parse worker with it), restart it after a short pause;
  never both replicas at once;
- kill_worker: kill -9 one worker process, restart it;
- kill_chroma: kill -9 the Chroma server, restart it on the same port and data dir;
- kill_redis: kill -9 Redis, restart it on the same port and dir (the AOF replays);
- stop_worker: SIGSTOP one worker process for 2-3 leases, then SIGCONT (it wakes holding leases that
  lapsed meanwhile, and other workers may have taken its jobs).
The first faults are a seeded permutation of every kind, spaced so all of them fit in the first 75% of the
run (a kind whose targets are busy waits a second, not a gap); after that the kinds are drawn at random.
`stop()` waits for every fault to be undone."""

import random
import signal
import threading
import time

from bench.chaos.stack import ChaosStack, LogService

KINDS = ("kill_compute", "kill_worker", "kill_chroma", "kill_redis", "stop_worker")
MEAN_GAP_S = 8.0
PAUSE_S = (0.5, 2.0)  # between a kill and the restart
BUSY_RETRY_S = 1.0


class Faults:
    def __init__(self, stack: ChaosStack, *, seed: int, duration_s: float) -> None:
        self.stack = stack
        self.rng = random.Random(f"{seed}-faults")
        # Even at 1.5x the mean gap every kind of the first round fits in the first 75% of the run.
        self.mean_gap_s = min(MEAN_GAP_S, 0.5 * duration_s / len(KINDS))
        self.counts = dict.fromkeys(KINDS, 0)
        self.log: list[dict] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._schedule, name="chaos-faults", daemon=True)
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join()
        for thread in self._running:
            thread.join()

    def _schedule(self) -> None:
        queue = list(KINDS)
        self.rng.shuffle(queue)
        gap_s = self.rng.uniform(0.5, 1.5) * self.mean_gap_s
        while not self.stopping.wait(gap_s):
            kind = queue[0] if queue else self.rng.choice(KINDS)
            target = self._target(kind)
            if target is None:  # its targets are all busy with earlier faults: try again in a moment
                gap_s = BUSY_RETRY_S
                continue
            gap_s = self.rng.uniform(0.5, 1.5) * self.mean_gap_s
            if queue:
                queue.pop(0)
            if kind == "stop_worker":
                hold_s = self.rng.uniform(2, 3) * self.stack.lease_s
            else:
                hold_s = self.rng.uniform(*PAUSE_S)
            thread = threading.Thread(target=self._inject, args=(kind, target, hold_s), name=f"chaos-{kind}")
            self._running = [t for t in self._running if t.is_alive()] + [thread]
            thread.start()

    def _target(self, kind: str) -> LogService | None:
        """A free target for the fault, its lock taken (released by _inject)."""
        stack = self.stack
        candidates = {
            "kill_compute": stack.compute,
            "kill_worker": stack.workers,
            "stop_worker": stack.workers,
            "kill_chroma": [stack.chroma],
            "kill_redis": [stack.redis],
        }[kind]
        if kind == "kill_compute" and any(s.lock.locked() for s in stack.compute):
            return None  # one replica always serves
        free = [s for s in candidates if not s.lock.locked()]
        self.rng.shuffle(free)
        for service in free:
            if service.lock.acquire(blocking=False):
                return service
        return None

    def _inject(self, kind: str, service: LogService, hold_s: float) -> None:
        """The fault, then its undoing: SIGCONT after hold_s, or a restart after a pause of hold_s."""
        started = time.monotonic()
        entry = {"kind": kind, "target": service.name, "at_s": round(started - self._t0, 1)}
        try:
            if kind == "stop_worker":
                service.signal_group(signal.SIGSTOP)
                self._count(kind)
                time.sleep(hold_s)
                service.signal_group(signal.SIGCONT)
                entry["stopped_s"] = round(hold_s, 1)
            else:
                service.kill()
                self._count(kind)
                time.sleep(hold_s)
                self.stack.restart(service)
            entry["back_after_s"] = round(time.monotonic() - started, 1)
        except RuntimeError as exc:
            entry["error"] = str(exc)
        finally:
            service.lock.release()
            with self._lock:
                self.log.append(entry)

    def _count(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1
