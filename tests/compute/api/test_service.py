"""Service-level behaviour: health, request ids, metrics, the service token, the error envelope."""

import os
import random
import re
import string
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from compute.app import InsecureConfig, create_app
from compute.middleware import ROUTES
from compute.settings import Settings
from tests.support import VENVS, assert_error, free_port

TOKEN = "c0mpute-test-token-0123456789abcdef"  # long enough, and no shipped placeholder


def test_health_endpoints(client):
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ok" and all(ready["checks"].values())


def test_request_id_is_echoed_or_made(client):
    assert client.get("/livez", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert len(client.get("/livez").headers["x-request-id"]) == 32


def test_metrics_count_requests(client):
    client.post("/embed", json={"texts": ["metrics probe"]})
    text = client.get("/metrics").text
    assert 'compute_requests_total{route="/embed",status="200"}' in text
    assert "compute_embedded_texts_total" in text


def test_random_methods_and_paths_add_no_metric_series(client):
    """Labels come from closed sets: 1,000 requests with random method tokens (h11 accepts any token)
    and unmatched paths leave /metrics with a bounded set of series and none of their names."""
    rng = random.Random(7)
    tokens = ["".join(rng.choices(string.ascii_uppercase + string.digits, k=10)) for _ in range(1000)]
    for i, method in enumerate(tokens):
        path = "/livez" if i % 2 else f"/nope-{method.lower()}"
        assert client.request(method, path).status_code in (404, 405)
    text = client.get("/metrics").text
    assert not [t for t in tokens if t in text or t.lower() in text]
    methods = set(re.findall(r'method="([^"]*)"', text))
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert len(methods) <= 10 and routes <= ROUTES | {"other"}, (methods, routes)


def test_unknown_route_uses_the_envelope(client):
    assert_error(client.get("/nope"), 404, "not_found")


@pytest.fixture(scope="module")
def guarded():
    with TestClient(create_app(Settings(service_token=TOKEN, parse_workers=1))) as tc:
        yield tc


def test_service_token_is_required(guarded):
    assert_error(guarded.post("/embed", json={"texts": ["x"]}), 401, "unauthorized")
    bad = guarded.post("/embed", json={"texts": ["x"]}, headers={"Authorization": "Bearer wrong"})
    assert_error(bad, 401, "unauthorized")
    ok = guarded.post("/embed", json={"texts": ["x"]}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    # Probes stay open so an orchestrator or kubelet can check health without the secret.
    assert guarded.get("/livez").status_code == 200
    # The schema is not: it maps the service for whoever reaches the port. No Swagger UI (a CDN) at all.
    assert_error(guarded.get("/openapi.json"), 401, "unauthorized")
    schema = guarded.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert schema.status_code == 200 and "/parse" in schema.json()["paths"]
    for page in ("/docs", "/redoc"):
        assert guarded.get(page, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_refuses_to_start_without_a_token_outside_dev():
    with pytest.raises(InsecureConfig, match="COMPUTE_SERVICE_TOKEN"):
        create_app(Settings(env="prod"))
    with pytest.raises(InsecureConfig):
        create_app(Settings(service_token="", env="prod"))  # an empty secret is no secret
    create_app(Settings(env="dev"))  # dev runs open, with a warning (below)
    create_app(Settings(service_token=TOKEN, env="prod"))


@pytest.mark.parametrize("env", ["prod", "dev"])
@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("replace-me-with-a-compute-token-openssl-rand-hex-32", "placeholder"),
        ("changeme", "placeholder"),
        ("t0ken", "5 characters; at least 32"),
        ("x" * 31, "31 characters"),
    ],
)
def test_refuses_a_placeholder_or_short_token(env, token, why):
    with pytest.raises(InsecureConfig, match=why) as refused:
        create_app(Settings(service_token=token, env=env))
    assert token not in str(refused.value)  # the message never quotes the secret


def test_process_exits_with_a_placeholder_token():
    done = _start_process(COMPUTE_SERVICE_TOKEN="replace-me-with-a-compute-token-openssl-rand-hex-32")
    assert done.returncode == 2
    assert "COMPUTE_SERVICE_TOKEN is a shipped placeholder" in done.stderr


def _start_process(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMPUTE_")}
    python = VENVS / "compute" / "bin" / "python"
    return subprocess.run(
        [str(python) if python.exists() else sys.executable, "-m", "compute"],
        env={**clean, "COMPUTE_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_process_exits_without_a_token():
    done = _start_process()  # COMPUTE_ENV defaults to prod
    assert done.returncode == 2
    assert "COMPUTE_SERVICE_TOKEN is not set; refusing to start" in done.stderr


def test_dev_mode_warns_loudly(caplog):
    with caplog.at_level("WARNING", logger="compute"):
        create_app(Settings(env="dev"))
    assert any("DEV MODE (COMPUTE_ENV=dev)" in r.getMessage() for r in caplog.records)
