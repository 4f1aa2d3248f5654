"""A document that compute parses in one answer comes chunked in it: the saga makes no /chunk request for
it. A PDF parsed window by window still goes to /chunk, once, with the merged parse. Real compute; its
per-route request counts come from its /metrics."""

from pathlib import Path

import httpx

from orchestrator.settings import Settings
from tests.support import documents
from tests.support.api import create_collection, running_app, upload, wait_document

ROUTE_COUNT = 'compute_request_seconds_count{route="%s"}'


def compute_requests(compute_url: str, route: str) -> float:
    text = httpx.get(f"{compute_url}/metrics", timeout=30).raise_for_status().text
    prefix = ROUTE_COUNT % route
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(prefix))


async def test_one_answer_needs_no_chunk_request_and_windows_need_one(
    api_settings: Settings, compute_url: str, tmp_path: Path
) -> None:
    settings = api_settings.model_copy(update={"parse_window_pages": 4})
    book = documents.book_pdf(tmp_path / "manual.pdf", 10).read_bytes()
    async with running_app(settings) as (_, api):
        await create_collection(api, "trips")

        async def ingested(filename: str, data: bytes) -> tuple[dict, float, float]:
            parses, chunks = compute_requests(compute_url, "/parse"), compute_requests(compute_url, "/chunk")
            response = await upload(api, "trips", filename, data)
            assert response.status_code == 202, response.text
            document = await wait_document(api, response.json()["document_id"])
            assert document["status"] == "ready", document.get("error")
            return (
                document,
                compute_requests(compute_url, "/parse") - parses,
                compute_requests(compute_url, "/chunk") - chunks,
            )

        note = b"Maintenance log.\n\nThe hydraulic pump in the elevator shaft leaked oil on Tuesday.\n"
        document, parses, chunks = await ingested("log.txt", note)
        assert (parses, chunks) == (1, 0) and document["chunk_count"] == 1

        document, parses, chunks = await ingested("manual.pdf", book)
        assert (parses, chunks) == (3, 1)  # pages 1-4, 5-8, 9-10, then the merged parse chunked once
        listed = (await api.get(f"/api/v1/documents/{document['id']}/chunks")).json()["chunks"]
        assert len(listed) == document["chunk_count"] > 1
        text = " ".join(c["text"] for c in listed)
        assert all(f"of page {page}:" in text for page in range(1, 11))  # every window's pages made it
