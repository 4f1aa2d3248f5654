"""No request adds a series to /metrics: the method label comes from a closed set (any other token h11
accepts counts as `other`) and the route label is the matched route's template or `unmatched`."""

import random
import re
import signal
import string

import httpx

from orchestrator.api import create_app
from orchestrator.api.request_context import METHODS
from orchestrator.settings import Settings
from tests.support import free_port, wait_ready
from tests.support.job_queue import api_process_env, start_api_process

REQUESTS = 1_000
LABEL = re.compile(r'^orchestrator_http_requests_total\{method="([^"]*)",route="([^"]*)",status="(\d+)"\}')
PATHS = ["/livez", "/api/v1/collections", "/api/v1/jobs/j1", "/no/such/path", "/console/x", "/"]


def _labels(metrics: str) -> tuple[dict[str, float], set[str]]:
    """Requests counted per method label, and every route label."""
    methods: dict[str, float] = {}
    routes: set[str] = set()
    for line in metrics.splitlines():
        if match := LABEL.match(line):
            method, route, _ = match.groups()
            methods[method] = methods.get(method, 0) + float(line.rsplit(" ", 1)[1])
            routes.add(route)
    return methods, routes


def _random_method(rng: random.Random) -> str:
    token = "".join(rng.choices(string.ascii_letters + string.digits + "-_.!~", k=rng.randint(1, 16)))
    return rng.choice([token, token.upper(), token.lower()])


def test_random_method_tokens_and_paths_add_no_series(api_settings: Settings, tmp_path) -> None:
    rng = random.Random(24)
    port = free_port()
    log = (tmp_path / "api.log").open("wb")
    process = start_api_process(api_process_env(api_settings), port, log, workers=1)
    try:
        wait_ready(f"http://127.0.0.1:{port}/livez", process, timeout_s=60)
        sent: set[str] = set()
        others = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(REQUESTS):
                method = _random_method(rng)
                sent.add(method)
                others += method not in METHODS
                path = rng.choice([*PATHS, f"/{_random_method(rng)}"])
                assert client.request(method, path).status_code < 500
            metrics = client.get("/metrics").text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        log.close()
    assert len(sent) > 900  # the requests did carry that many tokens
    methods, routes = _labels(metrics)
    assert len(methods) <= 10 and set(methods) <= METHODS | {"other"}, sorted(methods)[:20]
    assert methods["other"] == others > 900
    # Route templates as the app declares them (with or without the /api/v1 prefix its routers are
    # included under), the pages outside the schema, and one label for every other path.
    declared = set(create_app(api_settings).openapi()["paths"])
    known = declared | {p.removeprefix("/api/v1") for p in declared} | {"/console", "/docs", "/openapi.json"}
    assert routes <= known | {"unmatched"}, routes - known
    assert {"unmatched", "/livez"} <= routes
