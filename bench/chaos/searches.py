"""Searches during the run, each checked against the registry as Redis held it around the search.

Before the request, the searched collections and every document in them are read straight from Redis
(the "before" snapshot); after the answer, the hits' documents are read again ("after"). A hit (its chunk
id `{document_id}:{generation}:{index}`) is valid when its document was searchable at that generation at
some moment during the search, as far as the two snapshots can tell:
- the collection was active before (a search of a collection being deleted is a 404, not results);
- the document was not `deleting` before (deleting is final: it never becomes searchable again);
- it belongs to the searched collection it was returned for;
- lo <= generation <= hi, where lo is the searchable generation before (1 if it had none, or did not yet
  exist) and hi the searchable generation after (the one before if the record is gone by then); the
  searchable generation only moves forward, so any generation in between was searchable for a while.
Anything else is a violation, kept with both snapshots. A search whose snapshot Redis could not give (it
was down) is counted as unaudited, and its hits are not judged."""

import threading
import time
from dataclasses import asdict, dataclass

import httpx
import redis

from orchestrator.core import keys

MAX_EXAMPLES = 10


@dataclass(frozen=True)
class DocState:
    status: str
    generation: int
    collection: str


def read_documents(r: redis.Redis, ids: list[str]) -> dict[str, DocState | None]:
    pipe = r.pipeline(transaction=False)
    for document_id in ids:
        pipe.hmget(keys.document(document_id), "status", "generation", "collection")
    states: dict[str, DocState | None] = {}
    for document_id, (status, generation, collection) in zip(ids, pipe.execute(), strict=True):
        states[document_id] = None if status is None else DocState(status, int(generation or 0), collection)
    return states


def read_collections(
    r: redis.Redis, names: list[str]
) -> tuple[dict[str, str | None], dict[str, DocState | None]]:
    """Each collection's status (None: gone) and the state of every document in them."""
    pipe = r.pipeline(transaction=False)
    for name in names:
        pipe.hget(keys.collection(name), "status")
        pipe.zrange(keys.documents_by_collection(name), 0, -1)
    answers = pipe.execute()
    statuses = dict(zip(names, answers[0::2], strict=True))
    ids = sorted({i for members in answers[1::2] for i in members})
    return statuses, read_documents(r, ids)


def judge(
    hit: dict, searched: set[str], collections: dict[str, str | None], before: dict, after: dict
) -> str | None:
    """Why the hit is invalid (None when it is valid)."""
    document_id, generation, _ = hit["chunk_id"].rsplit(":", 2)
    generation = int(generation)
    if hit["document_id"] != document_id:
        return "chunk id of another document"
    if hit["collection"] not in searched:
        return "collection not searched"
    if collections.get(hit["collection"]) != "active":
        return "collection not active before the search"
    was, now = before.get(document_id), after.get(document_id)
    if was is None and now is None:
        return "document missing before and after"
    if was is not None and was.status == "deleting":
        return "document deleting before the search"
    if (was or now).collection != hit["collection"]:
        return "document of another collection"
    lo = max(1, was.generation) if was is not None else 1
    hi = now.generation if now is not None else was.generation
    if not lo <= generation <= hi:
        return "generation not searchable during the search"
    return None


class SearchAudit:
    def __init__(self, redis_url: str) -> None:
        self.redis = redis.Redis.from_url(
            redis_url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2
        )
        self.lock = threading.Lock()
        self.audited = 0
        self.unaudited = 0
        self.hits_checked = 0
        self.violations = 0
        self.examples: list[dict] = []

    def search(self, client: httpx.Client, query: str, collections: list[str], top_k: int) -> httpx.Response:
        """POST /search, judged against the snapshots; raises what the request raises."""
        try:
            statuses, before = read_collections(self.redis, collections)
        except redis.RedisError:
            statuses = None
        started = time.time()
        response = client.post("/search", json={"query": query, "collections": collections, "top_k": top_k})
        if response.status_code != 200:
            return response
        hits = response.json()["results"]
        try:
            after = read_documents(self.redis, sorted({h["document_id"] for h in hits}))
        except redis.RedisError:
            statuses = None
        if statuses is None:
            with self.lock:
                self.unaudited += 1
            return response
        bad = []
        for hit in hits:
            reason = judge(hit, set(collections), statuses, before, after)
            if reason is not None:
                was, now = before.get(hit["document_id"]), after.get(hit["document_id"])
                bad.append(
                    {
                        "reason": reason,
                        "chunk_id": hit["chunk_id"],
                        "collection": hit["collection"],
                        "search_started": round(started, 3),
                        "before": asdict(was) if was else None,
                        "after": asdict(now) if now else None,
                    }
                )
        with self.lock:
            self.audited += 1
            self.hits_checked += len(hits)
            self.violations += len(bad)
            self.examples += bad[: max(0, MAX_EXAMPLES - len(self.examples))]
        return response

    def close(self) -> None:
        self.redis.close()
