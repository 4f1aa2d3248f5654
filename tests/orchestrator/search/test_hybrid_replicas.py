"""Two API processes, each with its own lexical index (two slots under one ORCH_LEXICAL_DIR), on one
stack: a document committed through one is found lexically by both soon after its commit."""

import signal
import subprocess
import time
from pathlib import Path

import httpx

from orchestrator.settings import Settings
from tests.support import free_port, wait_ready
from tests.support.job_queue import api_process_env, start_api_process

API = "/api/v1"
PROPAGATION_BOUND_S = 2.0  # what a frontend behind several API replicas is promised


def _found(client: httpx.Client, query: str, document_id: str) -> bool:
    response = client.post(
        f"{API}/search",
        json={"query": query, "collections": ["replicas"], "mode": "lexical"},
        headers={"Cache-Control": "no-cache"},
    )
    assert response.status_code == 200, response.text
    return [r["document_id"] for r in response.json()["results"]] == [document_id]


def _first_found(
    clients: list[httpx.Client], query: str, document_id: str, timeout_s: float
) -> list[float | None]:
    """Per client, the wall-clock time (s) a lexical search first returned the document (None: never),
    asking them in turn so that each is timed from the same start."""
    found: list[float | None] = [None] * len(clients)
    deadline = time.monotonic() + timeout_s
    while None in found and time.monotonic() < deadline:
        for i, client in enumerate(clients):
            if found[i] is None and _found(client, query, document_id):
                found[i] = time.time()
        time.sleep(0.02)
    return found


def test_two_api_processes_both_find_a_new_document_soon_after_its_commit(
    api_settings: Settings, tmp_path: Path
) -> None:
    lexical_dir = tmp_path / "lexical"  # shared: each process claims a slot of its own
    processes: list[subprocess.Popen[bytes]] = []
    clients: list[httpx.Client] = []
    try:
        for name, workers in (("a", 1), ("b", 0)):
            port = free_port()
            log = (tmp_path / f"api-{name}.log").open("wb")
            env = api_process_env(api_settings, ORCH_SEARCHES_PER_MIN="0", ORCH_LEXICAL_DIR=str(lexical_dir))
            process = start_api_process(env, port, log, workers=workers)
            processes.append(process)
            wait_ready(f"http://127.0.0.1:{port}/readyz", process, timeout_s=60)
            clients.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30))
        assert sorted(p.name for p in lexical_dir.iterdir() if p.is_dir()) == ["slot-0", "slot-1"]
        a, b = clients
        assert a.post(f"{API}/collections", json={"name": "replicas"}).status_code == 201
        body = b"# Field notes\n\nThe survey team led by Quillfeather mapped the northern ridge.\n"
        upload = a.post(f"{API}/collections/replicas/documents", files={"file": ("notes.md", body)})
        assert upload.status_code == 202, upload.text
        document_id = upload.json()["document_id"]
        deadline = time.monotonic() + 120
        while (document := a.get(f"{API}/documents/{document_id}").json())["status"] != "ready":
            assert document["status"] in ("queued", "processing") and time.monotonic() < deadline, document
            time.sleep(0.02)
        committed_at_s = document["updated_at_ms"] / 1000  # written by the commit's transaction
        found = _first_found([a, b], "Quillfeather", document_id, timeout_s=10)
        assert None not in found, found
        lags_s = [at - committed_at_s for at in found if at is not None]
        assert max(lags_s) < PROPAGATION_BOUND_S, lags_s
    finally:
        for client in clients:
            client.close()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
