"""The queue's pieces without Redis: the state machine, records, settings, retry policy, metrics, handler
loading."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError

from orchestrator.core.ids import new_id
from orchestrator.errors import IllegalTransition, JobError
from orchestrator.ingest import build_handlers
from orchestrator.jobs.handlers import load_factory
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.metrics import PoolCollector
from orchestrator.jobs.model import Job, JobErrorInfo, JobStatus, JobType, Progress
from orchestrator.jobs.outcomes import RetryPolicy
from orchestrator.jobs.transitions import JOB_TRANSITIONS, check_job, lua_job_table
from orchestrator.jobs.worker import WorkerPool
from orchestrator.settings import Settings


@pytest.mark.parametrize("current", list(JobStatus))
@pytest.mark.parametrize("target", list(JobStatus))
def test_every_job_transition_is_allowed_or_refused(current: JobStatus, target: JobStatus) -> None:
    if target in JOB_TRANSITIONS[current]:
        check_job("j", current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_job("j", current, target)


def test_final_job_statuses_lead_nowhere_but_a_requeue() -> None:
    assert JOB_TRANSITIONS[JobStatus.succeeded] == JOB_TRANSITIONS[JobStatus.cancelled] == frozenset()
    assert JOB_TRANSITIONS[JobStatus.dead] == {JobStatus.queued}
    assert "succeeded={}" in lua_job_table() and "retrying={cancelled=true, running=true}" in lua_job_table()


def test_a_job_survives_the_trip_through_a_redis_hash() -> None:
    job = Job(
        id=new_id(),
        type=JobType.ingest,
        status=JobStatus.retrying,
        payload={"a": [1, "b"]},
        progress=Progress(done=3, total=None, unit="pages"),
        attempts=2,
        cancel_requested=True,
        error=JobErrorInfo(code="timeout", message="slow", retryable=True),
        created_at_ms=5,
    )
    stored = job.to_redis()
    assert stored["status"] == "retrying" and stored["cancel_requested"] == "1"
    assert "collection" not in stored  # None is not stored
    assert Job.from_redis(stored) == job


def test_ids_sort_by_creation_time() -> None:
    ids = [new_id() for _ in range(1_000)]
    assert len(set(ids)) == 1_000 and ids == sorted(ids)


def test_settings_refuse_inconsistent_timings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        Settings(lease_s=1.0, heartbeat_s=0.8)
    with pytest.raises(ValidationError):
        Settings(max_deliveries=0)
    monkeypatch.setenv("ORCH_LEASE_S", "60")
    monkeypatch.setenv("ORCH_CONCURRENCY", "2")
    assert (Settings().lease_s, Settings().concurrency) == (60.0, 2)


def test_retry_policy_backs_off_exponentially_with_a_cap_then_gives_up() -> None:
    policy = RetryPolicy(Settings(retry_base_s=1.0, retry_max_s=4.0, max_deliveries=5))
    flaky = JobError("timeout", "slow", retryable=True)  # type: ignore[arg-type]
    for attempt, full_s in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0)]:
        outcome = policy.outcome(flaky, attempt)
        assert outcome.status is JobStatus.retrying
        assert full_s / 2 * 1000 <= outcome.retry_delay_ms <= full_s * 1000
    assert policy.outcome(flaky, 5).dead_reason == "retries_exhausted"
    assert policy.outcome(JobError("corrupt_document", "bad"), 1).status is JobStatus.failed  # type: ignore[arg-type]
    poison = policy.outcome(JobError("internal", "boom", retryable=True, poison=True), 1)  # type: ignore[arg-type]
    assert (poison.status, poison.dead_reason) == (JobStatus.dead, "poison")
    unexpected = policy.outcome(RuntimeError("bug at http://chroma.internal:8000"), 1)
    assert unexpected.status is JobStatus.retrying and unexpected.error is not None
    assert unexpected.error.code == "internal" and "RuntimeError" in unexpected.error.message
    assert "chroma.internal" not in unexpected.error.message  # job records are read by clients


def test_handler_factories_load_by_name(settings: Settings) -> None:
    assert load_factory("orchestrator.ingest:build_handlers") is build_handlers
    assert load_factory(settings.handlers) is build_handlers  # the default
    assert load_factory("tests.support.fake_handlers:build").__name__ == "build"
    with pytest.raises(ValueError):
        load_factory("no_colon")


async def test_pool_counters_are_exported_to_prometheus(queue: JobQueue) -> None:
    pool = WorkerPool(queue, {}, worker_id="w1")
    pool.counters.succeeded = 3
    registry = CollectorRegistry()
    registry.register(PoolCollector(pool))
    text = generate_latest(registry).decode()
    assert 'orchestrator_job_attempts_total{outcome="succeeded",worker="w1"} 3.0' in text
    assert 'orchestrator_jobs_in_flight{worker="w1"} 0.0' in text
