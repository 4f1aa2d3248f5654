"""The API end to end on real Redis, Chroma and compute: each format ingested and found, duplicates,
idempotency, delete, re-ingest, chunks, metadata, events, collection lifecycle."""

import asyncio
import json

import httpx

from tests.support import assert_error
from tests.support.api import (
    API,
    create_collection,
    docx_bytes,
    ingest,
    pdf_bytes,
    pptx_bytes,
    search,
    upload,
    wait_document,
    wait_job,
    xlsx_bytes,
)

FILLER = "Other notes cover the weather, the office plants and the quarterly budget."

DOCUMENTS = {
    "notes.md": (
        f"# Astronomy\n\nThe telescope on the hill observed a comet passing near Jupiter.\n\n## Misc\n\n{FILLER}\n".encode(),
        "a comet seen near Jupiter through a telescope",
    ),
    "page.html": (
        f"<html><head><title>Baking</title></head><body><h1>Baking</h1><p>Sourdough bread needs a lively "
        f"starter and a long cold fermentation.</p><p>{FILLER}</p></body></html>".encode(),
        "how to ferment sourdough bread",
    ),
    "plain.txt": (
        f"Maintenance log.\n\nThe hydraulic pump in the elevator shaft leaked oil on Tuesday.\n\n{FILLER}\n".encode(),
        "elevator pump leaking oil",
    ),
    "table.csv": (
        b"species,habitat,diet\npenguin,antarctic ice shelves,krill and fish\ncamel,desert,thorny plants\n",
        "penguins living on antarctic ice eating krill",
    ),
    "report.docx": (
        docx_bytes("Volcanoes", ["Lava from the volcano destroyed the coastal village in 1902.", FILLER]),
        "volcanic lava destroyed a village",
    ),
    "scan.pdf": (
        pdf_bytes(
            "Glaciers", ["The glacier in the northern valley retreated forty metres last summer.", FILLER]
        ),
        "how far did the glacier retreat",
    ),
    "deck.pptx": (
        pptx_bytes("Solar power", "Dust storms cut the output of the solar panels by a fifth."),
        "dust reducing solar panel output",
    ),
    "stock.xlsx": (
        xlsx_bytes(
            [["item", "tonnes"], ["copper cathodes in the harbour warehouse", 1250], ["zinc ingots", 310]]
        ),
        "copper cathodes stored in the harbour warehouse",
    ),
    "guide.adoc": (
        f"= Beekeeping\n\n== Harvest\n\nThe beekeepers collected a record honey harvest in the valley.\n\n{FILLER}\n".encode(),
        "record honey harvest collected by beekeepers",
    ),
}


async def test_each_format_is_ingested_and_found_at_rank_1(api: httpx.AsyncClient) -> None:
    await create_collection(api, "formats")
    uploads = {}
    for filename, (data, _) in DOCUMENTS.items():
        response = await upload(api, "formats", filename, data, metadata=json.dumps({"source": filename}))
        assert response.status_code == 202, response.text
        body = response.json()
        assert response.headers["location"] == f"/api/v1/documents/{body['document_id']}"
        uploads[filename] = body
    for body in uploads.values():
        document = await wait_document(api, body["document_id"])
        assert document["status"] == "ready", document.get("error")
        assert document["generation"] == 1 and document["chunk_count"] >= 1
        job = await wait_job(api, body["job_id"])
        assert job["status"] == "succeeded" and job["attempts"] == 1
    for filename, (_, query) in DOCUMENTS.items():
        results = await search(api, query, ["formats"], top_k=3)
        assert results[0]["document_id"] == uploads[filename]["document_id"], (filename, results)
        assert results[0]["filename"] == filename
        assert results[0]["collection"] == "formats"
        assert results[0]["metadata"] == {"source": filename}
        assert {"chunk_id", "text", "score", "heading_path", "pages"} <= set(results[0])

    seen, cursor = [], None
    while True:
        params = {"collection": "formats", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"{API}/documents", params=params)).json()
        seen += [d["id"] for d in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(u["document_id"] for u in uploads.values()) and len(seen) == len(set(seen))
    by_name = (await api.get(f"{API}/documents", params={"filename": "TABLE"})).json()["items"]
    assert [d["filename"] for d in by_name] == ["table.csv"]
    by_meta = (await api.get(f"{API}/documents", params={"metadata": "source=page.html"})).json()["items"]
    assert [d["filename"] for d in by_meta] == ["page.html"]
    ready = (await api.get(f"{API}/documents", params={"status": "ready", "limit": 100})).json()["items"]
    assert len(ready) == len(DOCUMENTS)

    listing = (await api.get(f"{API}/collections/formats")).json()
    assert listing["document_count"] == len(DOCUMENTS)
    assert listing["chunk_count"] >= len(DOCUMENTS)
    md = uploads["notes.md"]["document_id"]
    chunks = (await api.get(f"{API}/documents/{md}/chunks")).json()
    assert chunks["generation"] == 1
    assert [c["index"] for c in chunks["chunks"]] == list(range(len(chunks["chunks"])))
    assert any("comet" in c["text"] for c in chunks["chunks"])
    assert chunks["chunks"][0]["heading_path"] == ["Astronomy"]


async def test_delete_document_hides_it_at_once_and_removes_it(api: httpx.AsyncClient) -> None:
    await create_collection(api, "deletes")
    keep = await ingest(api, "deletes", "keep.md", b"# Keep\n\nOwls hunt mice at night in the barn.\n")
    gone = await ingest(
        api, "deletes", "gone.md", b"# Gone\n\nOwls nest in hollow oak trees in the forest.\n"
    )
    assert {r["document_id"] for r in await search(api, "owls", ["deletes"])} == {keep["id"], gone["id"]}

    response = await api.delete(f"{API}/documents/{gone['id']}")
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    # Hidden at once, before its job ran.
    assert gone["id"] not in {
        r["document_id"] for r in await search(api, "owls nest in oak trees", ["deletes"])
    }
    again = await api.delete(f"{API}/documents/{gone['id']}")
    assert again.status_code in (202, 404)
    if again.status_code == 202:
        assert again.json()["job_id"] == job_id
    assert (await wait_job(api, job_id))["status"] == "succeeded"
    assert_error(await api.get(f"{API}/documents/{gone['id']}"), 404, "not_found")
    results = await search(api, "owls nest in oak trees", ["deletes"])
    assert [r["document_id"] for r in results] == [keep["id"]]


async def test_duplicate_policies(api: httpx.AsyncClient) -> None:
    await create_collection(api, "dups")
    data = b"# Tides\n\nThe moon pulls the oceans and makes the tides rise twice a day.\n"
    first = await ingest(api, "dups", "tides.md", data)

    rejected = await upload(api, "dups", "again.md", data)
    assert_error(rejected, 409, "duplicate")
    assert rejected.json()["error"]["document_id"] == first["id"]
    rejected_default = await upload(api, "dups", "again.md", data, on_duplicate="reject")
    assert rejected_default.status_code == 409

    skipped = await upload(api, "dups", "again.md", data, on_duplicate="skip")
    assert skipped.status_code == 200
    assert skipped.json()["document_id"] == first["id"] and skipped.json()["duplicate"] is True

    replaced = await upload(api, "dups", "again.md", data, on_duplicate="replace")
    assert replaced.status_code == 202, replaced.text
    body = replaced.json()
    assert body["document_id"] == first["id"] and body["job_id"] != first["job_id"]
    document = await wait_document(api, first["id"])
    assert document["status"] == "ready" and document["generation"] == 2
    assert (await api.get(f"{API}/documents", params={"collection": "dups"})).json()["items"].__len__() == 1
    results = await search(api, "what causes tides", ["dups"])
    assert {r["chunk_id"].split(":")[1] for r in results} == {"2"}
    # The same bytes in another collection are not a duplicate.
    await create_collection(api, "dups-other")
    assert (await upload(api, "dups-other", "tides.md", data)).status_code == 202


async def test_same_idempotency_key_makes_one_job(api: httpx.AsyncClient) -> None:
    await create_collection(api, "idem")
    headers = {"Idempotency-Key": "upload-42"}
    one = await upload(api, "idem", "a.md", b"# A\n\nAlpha text.\n", headers=headers)
    two = await upload(api, "idem", "a.md", b"# A\n\nAlpha text.\n", headers=headers)
    assert one.status_code == two.status_code == 202
    assert one.json()["job_id"] == two.json()["job_id"]
    assert one.json()["document_id"] == two.json()["document_id"]
    concurrent = await asyncio.gather(
        *(
            upload(api, "idem", "b.md", b"# B\n\nBeta text.\n", headers={"Idempotency-Key": "k-b"})
            for _ in range(4)
        )
    )
    assert len({r.json()["job_id"] for r in concurrent}) == 1
    jobs = (await api.get(f"{API}/jobs", params={"collection": "idem", "type": "ingest"})).json()["items"]
    assert len(jobs) == 2
    documents = (await api.get(f"{API}/documents", params={"collection": "idem"})).json()["items"]
    assert len(documents) == 2


async def test_reingest_keeps_the_old_generation_until_the_new_one_is_ready(api: httpx.AsyncClient) -> None:
    await create_collection(api, "regen", chunking={"strategy": "sentence", "max_tokens": 64})
    document = await ingest(api, "regen", "r.md", b"# R\n\nThe harbour crane lifts shipping containers.\n")
    response = await api.post(
        f"{API}/documents/{document['id']}/reingest", json={"chunking": {"strategy": "markdown"}}
    )
    assert response.status_code == 202
    # While it waits and runs, generation 1 answers.
    results = await search(api, "crane lifting containers", ["regen"])
    assert results and results[0]["chunk_id"].startswith(f"{document['id']}:")
    job = await wait_job(api, response.json()["job_id"])
    assert job["status"] == "succeeded" and job["type"] == "reingest"
    after = await wait_document(api, document["id"])
    assert after["generation"] == 2 and after["status"] == "ready"
    results = await search(api, "crane lifting containers", ["regen"])
    assert results[0]["chunk_id"] == f"{document['id']}:2:0"
    assert len(results) == 1  # generation 1's vectors are gone


async def test_patch_document_metadata_reaches_search(api: httpx.AsyncClient) -> None:
    await create_collection(api, "meta")
    document = await ingest(
        api,
        "meta",
        "m.md",
        b"# M\n\nBees make honey from flower nectar.\n",
        metadata=json.dumps({"team": "a"}),
    )
    response = await api.patch(
        f"{API}/documents/{document['id']}", json={"metadata": {"team": "b", "year": 2024}}
    )
    assert response.status_code == 200 and response.json()["metadata"] == {"team": "b", "year": 2024}
    results = await search(api, "honey bees", ["meta"], filters={"team": "b"})
    assert [r["document_id"] for r in results] == [document["id"]]
    assert await search(api, "honey bees", ["meta"], filters={"team": "a"}) == []
    removed = await api.patch(f"{API}/documents/{document['id']}", json={"metadata": {"year": None}})
    assert removed.json()["metadata"] == {"team": "b"}
    assert await search(api, "honey bees", ["meta"], filters={"year": 2024}) == []
    assert (await search(api, "honey bees", ["meta"]))[0]["metadata"] == {"team": "b"}


async def test_job_events_stream_progress_until_the_end(api: httpx.AsyncClient) -> None:
    await create_collection(api, "events")
    response = await upload(
        api, "events", "e.md", b"# E\n\nGlaciers carve valleys over thousands of years.\n"
    )
    job_id = response.json()["job_id"]
    events = []
    async with api.stream("GET", f"{API}/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
            elif line.startswith("data: ") and events:
                events[-1] = (events[-1], json.loads(line.removeprefix("data: ")))
    statuses = [data["status"] for kind, data in events if kind == "status"]
    assert statuses[0] == "queued" and statuses[-1] == "succeeded"
    units = {data.get("progress", {}).get("unit") for kind, data in events if kind == "progress"}
    assert {"pages", "chunks", "chunks embedded"} <= units


async def test_metadata_extraction_when_the_collection_asks_for_it(api: httpx.AsyncClient) -> None:
    created = await create_collection(api, "extract", extract_metadata=True)
    assert created["extract_metadata"] is True
    text = (
        b"# Solar Panels on Farm Buildings\n\nFarmers install solar panels on barn roofs to cut electricity "
        b"costs. Solar panels on farm buildings also earn income from the grid.\n"
    )
    document = await ingest(api, "extract", "solar.md", text)
    extracted = document["extracted"]
    assert extracted["title"] == "Solar Panels on Farm Buildings"
    assert extracted["language"] == "en" and extracted["keywords"] and extracted["summary"]
    plain = await create_collection(api, "no-extract")
    assert plain["extract_metadata"] is False
    assert (await ingest(api, "no-extract", "solar.md", text))["extracted"] is None


async def test_collection_lifecycle(api: httpx.AsyncClient) -> None:
    created = await create_collection(api, "life", metadata={"owner": "x"}, chunking={"strategy": "sentence"})
    assert created["dim"] == 384 and created["embedding_model"] and created["chroma_name"].startswith("life-")
    assert_error(await api.post(f"{API}/collections", json={"name": "life"}), 409, "conflict")
    patched = await api.patch(f"{API}/collections/life", json={"metadata": {"owner": "y"}})
    assert patched.json()["metadata"] == {"owner": "y"}
    names = [c["name"] for c in (await api.get(f"{API}/collections")).json()["items"]]
    assert "life" in names
    document = await ingest(api, "life", "l.md", b"# L\n\nFerns grow in shady damp woodland.\n")

    response = await api.delete(f"{API}/collections/life")
    assert response.status_code == 202
    # Hidden at once: reads, uploads and searches see no such collection.
    assert_error(await api.get(f"{API}/collections/life"), 404, "not_found")
    assert_error(await upload(api, "life", "x.md", b"# X\n\nx\n"), 404, "not_found")
    assert_error(
        await api.post(f"{API}/search", json={"query": "ferns", "collections": ["life"]}), 404, "not_found"
    )
    assert (await wait_job(api, response.json()["job_id"]))["status"] == "succeeded"
    assert_error(await api.get(f"{API}/documents/{document['id']}"), 404, "not_found")
    # The name can be used again, with a Chroma collection of its own.
    again = await create_collection(api, "life")
    assert again["chroma_name"] != created["chroma_name"]
    assert await search(api, "ferns", ["life"]) == []
