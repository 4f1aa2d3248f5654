"""The seeded load: a few threads, each with its own `random.Random`, choosing operations by weight
against /api/v1 (uploads of corpus and generated files, deliberate duplicate uploads, re-ingests, metadata
patches, document and collection deletes, cancels, searches, job polls) and recording every outcome in the
ledger. It never crashes on an error: a status is counted as it came, no answer as `unknown:<error>`.

Kept modest for two shared cores: uploads and re-ingests pause while more than `max_backlog` of them are
not yet seen final, and the first collection is never deleted, so the end state holds documents to
check. In the second half of the run an operation that has not yet succeeded once is chosen
first when it can be, so a short run still does every kind."""

import itertools
import json
import random
import threading
import time
from collections.abc import Callable

import httpx

from bench.chaos.documents import DocumentSource, sentence
from bench.chaos.ledger import Ledger, Upload
from bench.chaos.searches import SearchAudit

WEIGHTS = {
    "upload": 30.0,
    "duplicate_upload": 6.0,
    "reingest": 6.0,
    "patch_metadata": 10.0,
    "delete_document": 5.0,
    "delete_collection": 0.3,
    "cancel": 5.0,
    "search": 25.0,
    "poll_jobs": 10.0,
}
OPERATIONS = (*WEIGHTS, "create_collection")
INGESTING = ("upload", "duplicate_upload", "reingest")
REQUEST_TIMEOUT_S = 30


class Load:
    def __init__(
        self,
        api_url: str,
        ledger: Ledger,
        audit: SearchAudit,
        *,
        seed: int,
        duration_s: float,
        threads: int = 3,
        collections: int = 3,
        max_backlog: int = 8,
    ) -> None:
        self.api = api_url + "/api/v1"
        self.ledger, self.audit = ledger, audit
        self.seed, self.duration_s = seed, duration_s
        self.threads, self.target_collections, self.max_backlog = threads, collections, max_backlog
        self.source = DocumentSource(seed)
        self.stopping = threading.Event()
        self.started = 0.0
        self._names = itertools.count(1)
        self._pending_name: str | None = None  # a create that got no answer is asked for again, same name
        self._create_lock = threading.Lock()
        self._serial = itertools.count(1)
        self._pool: list[threading.Thread] = []

    def start(self) -> None:
        self.started = time.monotonic()
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), name=f"chaos-load-{n}", daemon=True)
            thread.start()
            self._pool.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._pool:
            thread.join(REQUEST_TIMEOUT_S * 3)

    def _run(self, n: int) -> None:
        rng = random.Random(f"{self.seed}-load-{n}")
        with httpx.Client(base_url=self.api, timeout=REQUEST_TIMEOUT_S) as client:
            while not self.stopping.is_set():
                operation = self._pick(rng)
                try:
                    getattr(self, f"_{operation}")(client, rng)
                except httpx.HTTPError as exc:
                    self.ledger.outcome(operation, f"unknown:{type(exc).__name__}")
                self.stopping.wait(rng.uniform(0.05, 0.3))

    # ------------------------------------------------------------ choosing

    def _possible(self, operation: str) -> bool:
        ledger = self.ledger
        if operation in INGESTING and len(ledger.outstanding()) >= self.max_backlog:
            return False
        if operation == "duplicate_upload":
            return bool(ledger.sent)
        if operation == "reingest":
            return bool(ledger.live_documents(ready_only=True))
        if operation in ("patch_metadata", "delete_document"):
            return bool(ledger.live_documents())
        if operation == "delete_collection":
            return len(ledger.live_collections()) >= 2
        if operation in ("cancel", "poll_jobs"):
            return bool(ledger.outstanding(("upload", "reingest", "delete_document", "delete_collection")))
        return bool(ledger.live_collections()) or operation == "create_collection"

    def _pick(self, rng: random.Random) -> str:
        if len(self.ledger.live_collections()) < self.target_collections and not self._create_lock.locked():
            return "create_collection"
        possible = [op for op in WEIGHTS if self._possible(op)]
        if not possible:
            return "poll_jobs" if self.ledger.outstanding() else "search"
        if time.monotonic() - self.started > self.duration_s / 2:
            missing = [op for op in possible if self.ledger.succeeded(op) == 0]
            if missing:
                choice = rng.choice(missing)
                # A cancel needs a job still in flight: without new uploads, every outstanding one ends.
                return "upload" if choice == "cancel" and rng.random() < 0.5 else choice
        return rng.choices(possible, weights=[WEIGHTS[op] for op in possible])[0]

    def _answer(self, operation: str, response: httpx.Response) -> httpx.Response:
        self.ledger.outcome(operation, str(response.status_code))
        return response

    # ------------------------------------------------------------ operations

    def _create_collection(self, client: httpx.Client, rng: random.Random) -> None:
        if not self._create_lock.acquire(blocking=False):
            return
        try:
            name = self._pending_name or f"chaos-{self.seed}-{next(self._names)}"
            self._pending_name = name
            response = self._answer("create_collection", client.post("/collections", json={"name": name}))
            if response.status_code in (201, 409):  # 409: an earlier try with no answer made it
                self.ledger.add_collection(name)
                self._pending_name = None
        finally:
            self._create_lock.release()

    def _upload(self, client: httpx.Client, rng: random.Random) -> None:
        collection = rng.choice(self.ledger.live_collections())
        filename, data, source = self.source.next()
        serial = next(self._serial)
        metadata = {"chaos_seq": serial, "source": source, "colour": rng.choice(("red", "green", "blue"))}
        key = f"chaos-{self.seed}-{serial}" if rng.random() < 0.3 else None
        self.ledger.remember_sent(collection, filename, data)
        for _ in range(2 if key else 1):  # with an idempotency key, a try that got no answer is repeated
            try:
                self._send("upload", client, collection, filename, data, metadata, "reject", key)
                return
            except httpx.HTTPError as exc:
                self.ledger.outcome("upload", f"unknown:{type(exc).__name__}")

    def _duplicate_upload(self, client: httpx.Client, rng: random.Random) -> None:
        live = set(self.ledger.live_collections())
        with self.ledger.lock:
            choices = [s for s in self.ledger.sent if s[0] in live]
        if not choices:
            return
        collection, filename, data = rng.choice(choices)
        policy = rng.choice(("reject", "skip", "replace"))
        self._send(
            "duplicate_upload", client, collection, filename, data, {"duplicate": policy}, policy, None
        )

    def _send(
        self,
        operation: str,
        client: httpx.Client,
        collection: str,
        filename: str,
        data: bytes,
        metadata: dict,
        policy: str,
        key: str | None,
    ) -> None:
        response = self._answer(
            operation,
            client.post(
                f"/collections/{collection}/documents",
                files={"file": (filename, data, "application/octet-stream")},
                data={"metadata": json.dumps(metadata), "on_duplicate": policy},
                headers={"Idempotency-Key": key} if key else None,
            ),
        )
        body = response.json() if response.status_code in (200, 202) else {}
        if response.status_code == 202:
            self.ledger.acknowledge_upload(Upload(body["document_id"], body["job_id"], collection))
        elif response.status_code == 200 and body.get("job_id"):  # a skipped duplicate: the existing job
            self.ledger.acknowledge_job(body["job_id"], "duplicate", document_id=body["document_id"])

    def _about(
        self, operation: str, document_id: str, send: Callable[[], httpx.Response], **detail: object
    ) -> httpx.Response:
        """The request, its answer (or its error) noted in the document's history and the counts."""
        try:
            response = send()
        except httpx.HTTPError as exc:
            self.ledger.note(document_id, operation, f"unknown:{type(exc).__name__}", **detail)
            raise
        self.ledger.note(document_id, operation, str(response.status_code), **detail)
        return self._answer(operation, response)

    def _reingest(self, client: httpx.Client, rng: random.Random) -> None:
        document = rng.choice(self.ledger.live_documents(ready_only=True))
        body = {"chunking": {"strategy": rng.choice(("markdown", "sentence"))}} if rng.random() < 0.5 else {}
        path = f"/documents/{document.document_id}/reingest"
        response = self._about("reingest", document.document_id, lambda: client.post(path, json=body))
        if response.status_code == 202:
            document.ready = False
            self.ledger.acknowledge_job(
                response.json()["job_id"], "reingest", document_id=document.document_id
            )

    def _patch_metadata(self, client: httpx.Client, rng: random.Random) -> None:
        document = rng.choice(self.ledger.live_documents())
        patch = {"colour": rng.choice(("red", "green", "blue", None)), "patched": next(self._serial)}
        path = f"/documents/{document.document_id}"
        send = lambda: client.patch(path, json={"metadata": patch})  # noqa: E731 (sent by _about)
        self._about("patch_metadata", document.document_id, send, patch=patch)

    def _delete_document(self, client: httpx.Client, rng: random.Random) -> None:
        document = rng.choice(self.ledger.live_documents())
        self.ledger.forget_document(document.document_id)
        path = f"/documents/{document.document_id}"
        response = self._about("delete_document", document.document_id, lambda: client.delete(path))
        if response.status_code == 202:
            job_id = response.json()["job_id"]
            self.ledger.acknowledge_job(job_id, "delete_document", document_id=document.document_id)

    def _delete_collection(self, client: httpx.Client, rng: random.Random) -> None:
        name = rng.choice(self.ledger.live_collections()[1:])  # the first one stays, so documents pile up
        self.ledger.forget_collection(name)
        response = self._answer("delete_collection", client.delete(f"/collections/{name}"))
        if response.status_code == 202:
            self.ledger.acknowledge_job(response.json()["job_id"], "delete_collection", collection=name)

    def _cancel(self, client: httpx.Client, rng: random.Random) -> None:
        outstanding = self.ledger.outstanding(("upload", "reingest", "delete_document"))
        # Until one cancel succeeded, the newest job: the likeliest to be still waiting or running.
        job_id = outstanding[-1] if self.ledger.succeeded("cancel") == 0 else rng.choice(outstanding)
        about = self.ledger.jobs[job_id]
        send = lambda: client.post(f"/jobs/{job_id}/cancel")  # noqa: E731 (sent by _about)
        response = self._about("cancel", about["document_id"], send, job_id=job_id, job_type=about["type"])
        if response.status_code == 200:
            self.ledger.job_seen(job_id, response.json()["status"])

    def _search(self, client: httpx.Client, rng: random.Random) -> None:
        live = self.ledger.live_collections()
        if not live:
            return
        collections = rng.sample(live, k=min(len(live), rng.choice((1, 1, 2))))
        query = sentence(rng, rng.randint(2, 8))
        self._answer("search", self.audit.search(client, query, collections, top_k=10))

    def _poll_jobs(self, client: httpx.Client, rng: random.Random) -> None:
        outstanding = self.ledger.outstanding(("upload", "reingest", "delete_document", "delete_collection"))
        for job_id in rng.sample(outstanding, k=min(5, len(outstanding))):
            response = self._answer("poll_jobs", client.get(f"/jobs/{job_id}"))
            if response.status_code == 200:
                self.ledger.job_seen(job_id, response.json()["status"])
