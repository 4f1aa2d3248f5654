"""Which status changes are legal for a job. Python checks with `check_job`; the Lua scripts that move
jobs get the same table rendered into their header (`lua_job_table`), so there is one definition."""

from collections.abc import Mapping

from orchestrator.errors import IllegalTransition
from orchestrator.jobs.model import JobStatus

J = JobStatus
JOB_TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    J.queued: frozenset({J.running, J.cancelled}),
    # running -> running: its worker died and another one starts the next attempt.
    # running -> queued: released by a worker shutting down, attempt given back.
    J.running: frozenset({J.running, J.queued, J.retrying, J.succeeded, J.failed, J.cancelled, J.dead}),
    J.retrying: frozenset({J.running, J.cancelled}),
    J.succeeded: frozenset(),
    J.cancelled: frozenset(),
    # An operator may retry a failed job or replay a dead letter.
    J.failed: frozenset({J.queued}),
    J.dead: frozenset({J.queued}),
}


def check_job(job_id: str, current: JobStatus, target: JobStatus) -> None:
    if target not in JOB_TRANSITIONS[current]:
        raise IllegalTransition("job", job_id, current, target)


def lua_job_table() -> str:
    """`JOB_NEXT[from][to] == true` for each legal job transition, as a Lua table constructor."""
    rows = []
    for current, targets in JOB_TRANSITIONS.items():
        inner = ", ".join(f"{t}=true" for t in sorted(targets))
        rows.append(f"{current}={{{inner}}}")
    return "local JOB_NEXT = {" + ", ".join(rows) + "}"
