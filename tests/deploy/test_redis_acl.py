"""The Redis that compose and Kubernetes ship, for real: a redis-server started by docker-compose.yml's own
start script and command line (the ACL file written from the password secret, maxmemory, noeviction; only
the paths and the port swapped in) has no password on its command line or in its environment, refuses the
passwordless default user, keys outside the orchestrator's prefix and admin commands, while the
orchestrator, logged in as the ACL user through ORCH_REDIS_URL, runs its Lua scripts, consumer groups,
rate limits and a job from enqueue to success; a password that would add ACL rules stops the start."""

import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from limits import RateLimitItemPerMinute
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from orchestrator.api.ratelimit import build_limiter
from orchestrator.catalog import Registry
from orchestrator.catalog.model import Collection
from orchestrator.core.redis_client import connect
from orchestrator.jobs.context import JobContext
from orchestrator.jobs.job_queue import JobQueue
from orchestrator.jobs.model import Job, JobStatus, JobType
from orchestrator.jobs.worker import WorkerPool
from orchestrator.settings import Settings
from tests.deploy.manifests import compose_file, compose_redis_script
from tests.support import free_port
from tests.support.job_queue import FAST, wait_until
from tests.support.redis_server import REDIS_SERVER


def client(port: int, **auth: str) -> redis.Redis:
    return redis.Redis(port=port, retry=Retry(NoBackoff(), 0), socket_connect_timeout=0.5, **auth)


def shipped_command(password: str, port: int, directory: Path) -> list[str]:
    """compose's start script and redis-server argv, with the secret and the ACL file under `directory`."""
    secret, acl = directory / "secrets", directory / "redis-acl"
    secret.mkdir()
    acl.mkdir()
    (secret / "redis_password").write_text(password)  # as a Secret's file: no newline at the end
    entrypoint = list(compose_file()["services"]["redis"]["entrypoint"])
    script = compose_redis_script().replace("/run/secrets", str(secret)).replace("/run/redis-acl", str(acl))
    argv = [
        word.replace("/run/redis-acl", str(acl)) for word in compose_file()["services"]["redis"]["command"]
    ]
    assert argv[0] == "redis-server"
    argv[0] = REDIS_SERVER
    argv[argv.index("--dir") + 1] = str(directory)  # redis-server changes into it while reading options
    return [
        *entrypoint[:2],
        script,
        *entrypoint[3:],
        *argv,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ]


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str, int]]:
    password, port = secrets.token_hex(32), free_port()
    directory = tmp_path_factory.mktemp("acl-redis")
    process = subprocess.Popen(
        [*shipped_command(password, port, directory), "--logfile", str(directory / "redis.log")]
    )
    probe = client(port, username="docsearch", password=password)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                assert process.poll() is None, (directory / "redis.log").read_text()
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield port, password, process.pid
    finally:
        probe.close()
        process.terminate()
        process.wait(10)


def test_no_password_on_the_command_line_or_in_the_environment(acl_redis: tuple[int, str, int]) -> None:
    _, password, pid = acl_redis
    process = Path(f"/proc/{pid}")
    assert (process / "exe").resolve() == Path(REDIS_SERVER).resolve()  # the script exec'd into it
    for seen in ("cmdline", "environ"):  # what `ps e` shows
        assert password.encode() not in (process / seen).read_bytes(), seen


def test_a_password_that_would_add_acl_rules_stops_the_start(tmp_path: Path) -> None:
    argv = shipped_command("x ~* +@all", free_port(), tmp_path)
    started = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert started.returncode != 0 and "bad or empty password" in started.stderr
    assert not (tmp_path / "redis-acl" / "users.acl").exists()


def test_only_the_acl_user_gets_in_and_only_to_the_orchestrator_keys(acl_redis: tuple[int, str, int]) -> None:
    port, password, _ = acl_redis
    with pytest.raises(redis.AuthenticationError):  # NOAUTH: the default user is off
        client(port).ping()
    with pytest.raises(redis.AuthenticationError):
        client(port, username="docsearch", password="wrong" + password).ping()
    with client(port, username="docsearch", password=password) as acl_user:
        assert acl_user.set("ds:v1:probe", "1")
        for refused in (
            lambda: acl_user.set("elsewhere", "1"),
            lambda: acl_user.flushall(),
            lambda: acl_user.config_get("maxmemory"),
            lambda: acl_user.keys("*"),
            lambda: acl_user.acl_list(),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                refused()


async def test_the_orchestrator_runs_a_job_as_the_acl_user(acl_redis: tuple[int, str, int]) -> None:
    port, password, _ = acl_redis
    settings = Settings(redis_url=f"redis://docsearch:{password}@127.0.0.1:{port}/0", **FAST)
    orchestrator: Redis = connect(settings)
    try:
        await Registry(orchestrator).create_collection(Collection(name="acl"))
        queue = JobQueue(orchestrator, settings)
        await queue.setup()

        async def handler(ctx: JobContext, job: Job) -> None:
            await ctx.progress(1, 1, "steps", stage="work")

        pool = WorkerPool(queue, {JobType.ingest: handler}, concurrency=1, worker_id="acl-pool")
        await pool.start()
        try:
            enqueued = await queue.enqueue(JobType.ingest, {}, collection="acl", idempotency_key="acl-1")

            async def succeeded() -> bool:
                return (await queue.get(enqueued.job.id)).status is JobStatus.succeeded

            await wait_until(succeeded, timeout_s=30, what="the job to succeed")
        finally:
            await pool.stop(deadline_s=0)
        assert (await queue.stats()).model_dump()  # XINFO and friends are allowed too
        limiter, item = build_limiter(orchestrator), RateLimitItemPerMinute(1)
        assert await limiter.hit(item, "acl", "client") and not await limiter.hit(item, "acl", "client")
    finally:
        await orchestrator.aclose()
