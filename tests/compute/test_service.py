"""Service-level behaviour: health, request ids, metrics, the service token, the error envelope."""

import pytest
from fastapi.testclient import TestClient

from compute.app import create_app
from compute.settings import Settings
from tests.support import assert_error


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


def test_unknown_route_uses_the_envelope(client):
    assert_error(client.get("/nope"), 404, "not_found")


@pytest.fixture(scope="module")
def guarded():
    with TestClient(create_app(Settings(service_token="t0ken", parse_workers=1))) as tc:
        yield tc


def test_service_token_is_required(guarded):
    assert_error(guarded.post("/embed", json={"texts": ["x"]}), 401, "unauthorized")
    bad = guarded.post("/embed", json={"texts": ["x"]}, headers={"Authorization": "Bearer wrong"})
    assert_error(bad, 401, "unauthorized")
    ok = guarded.post("/embed", json={"texts": ["x"]}, headers={"Authorization": "Bearer t0ken"})
    assert ok.status_code == 200
    # Probes stay open so an orchestrator or kubelet can check health without the secret.
    assert guarded.get("/livez").status_code == 200
