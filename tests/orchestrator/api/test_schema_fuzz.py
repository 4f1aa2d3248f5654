"""Schemathesis over the orchestrator's OpenAPI schema, against the API on a real stack (Redis, Chroma,
compute): valid and invalid requests for every operation, a bounded number each with a fixed seed, and
no 5xx answer except a documented 503 with Retry-After. Prints how many cases ran and how many 5xx."""

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator

import hypothesis
import pytest
import redis
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode

from orchestrator.api import create_app
from orchestrator.settings import Settings
from tests.support import free_port
from tests.support.api import stack_settings

EXAMPLES_PER_OPERATION = 25  # per generation mode: about 1,200 requests, a minute or two here
REQUEST_TIMEOUT_S = 30.0
# An event stream of a job that exists stays open until the job ends: the fuzzer reads it only this long.
STREAM_TIMEOUT_S = 3.0


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The API under uvicorn in a thread of its own (its own event loop, lifespan included)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _seed(url: str) -> None:
    """Something for the fuzzer to find: a collection with a ready document."""
    session = requests.Session()
    assert session.post(f"{url}/api/v1/collections", json={"name": "fuzz"}).status_code == 201
    files = {"file": ("a.md", b"# Fuzz\n\nRivers carry water to the sea.\n", "text/markdown")}
    accepted = session.post(f"{url}/api/v1/collections/fuzz/documents", files=files)
    assert accepted.status_code == 202, accepted.text


def _acceptable(response: requests.Response) -> bool:
    if response.status_code < 500:
        return True
    # The one 5xx the API documents: a dependency away or busy, with when to come back.
    return response.status_code == 503 and "retry-after" in response.headers


@pytest.fixture
def fuzz_settings(settings: Settings, chroma_url: str, compute_url: str, compute_token: str) -> Settings:
    redis.Redis.from_url(settings.redis_url).flushall()
    return stack_settings(
        settings.redis_url, chroma_url, compute_url, compute_token, api_workers=1, uploads_per_min=0
    )


def test_no_5xx_from_the_orchestrator_schema(fuzz_settings: Settings) -> None:
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    with serving(fuzz_settings) as url:
        _seed(url)
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        session = requests.Session()
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @hypothesis.settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    derandomize=True,  # a fixed seed: the same cases every run
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case: schemathesis.Case) -> None:
                    streaming = case.path.endswith("/events")
                    timeout = STREAM_TIMEOUT_S if streaming else REQUEST_TIMEOUT_S
                    try:
                        response = case.call(base_url=url, session=session, timeout=timeout)
                    except requests.exceptions.ReadTimeout:
                        if streaming:  # a real job's stream, open as it should be
                            statuses[200] += 1
                            return
                        raise
                    except (requests.exceptions.InvalidHeader, UnicodeEncodeError):
                        return  # the client cannot even send it (a header out of latin-1, say)
                    except ValueError as exc:  # http.client's own refusal of a header it cannot send
                        if "header" not in str(exc).lower():
                            raise
                        return
                    statuses[response.status_code] += 1
                    if not _acceptable(response):
                        failures.append(
                            f"{case.method} {case.formatted_path} -> {response.status_code}: "
                            f"{response.text[:300]}\n  {case.as_curl_command()}"
                        )

                try:
                    run()
                except hypothesis.errors.Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters, no body)
    cases = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(
        f"\nschemathesis (orchestrator): {len(operations)} operations, {cases} cases, "
        f"{server_errors} 5xx ({len(failures)} not a 503 with Retry-After); statuses {dict(sorted(statuses.items()))}"
    )
    assert cases > len(operations) * EXAMPLES_PER_OPERATION  # it really ran
    assert not failures, "\n".join(failures[:20])
