"""Requests the routes refuse before any work: missing or malformed fields, unknown values, too many
texts, each answered with its status and the error envelope."""

from tests.support import assert_error


def test_missing_file_field(client):
    resp = client.post("/parse", data={"password": "x"}, files={"other": ("a.txt", b"hello")})
    assert_error(resp, 422, "invalid_request")


def test_chunk_request_errors(client):
    assert_error(client.post("/chunk", json={"strategy": "sentence"}), 422, "invalid_request")
    assert_error(client.post("/chunk", json={"text": "x", "strategy": "nonsense"}), 422, "invalid_request")
    assert_error(client.post("/chunk", json={"text": "x", "max_tokens": 4}), 422, "invalid_request")
    assert_error(
        client.post("/chunk", content=b"{not json", headers={"content-type": "application/json"}),
        422,
        "invalid_request",
    )


def test_embed_errors(client):
    assert_error(client.post("/embed", json={"texts": []}), 422, "invalid_request")
    assert_error(client.post("/embed", json={"texts": ["x"], "model": "nope"}), 404, "unknown_model")
    assert_error(client.post("/embed", json={"texts": ["x"] * 5000}), 413, "too_large")
    assert_error(client.post("/embed", json={"texts": ["x"], "kind": "document"}), 422, "invalid_request")
