"""A document's chunks (search.chunks) through the API: pages follow the offset cursor in order, read
from Chroma page by page, and a cursor past the end is an empty last page."""

import httpx

from tests.support.api import API, create_collection, ingest, long_markdown


async def test_chunk_pages_follow_the_offset_cursor_in_order(api: httpx.AsyncClient) -> None:
    await create_collection(api, "pages", chunking={"strategy": "sentence", "max_tokens": 64})
    document = await ingest(api, "pages", "long.md", long_markdown(6))
    total = document["chunk_count"]
    assert total > 7
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"{API}/documents/{document['id']}/chunks", params=params)).json()
        assert len(page["chunks"]) <= 3
        seen += [c["index"] for c in page["chunks"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(total)) and pages == -(-total // 3)
    past = await api.get(f"{API}/documents/{document['id']}/chunks", params={"cursor": str(total + 5)})
    assert past.json()["chunks"] == [] and past.json()["next_cursor"] is None
