"""The operator console (/console) in Debian's chromium, driven by Playwright, against the whole stack:
three corpus files dropped on the upload zone and their live bars reaching done, a search with a
highlighted hit, the document and its chunks, its deletion and its absence from search after, and a dead
job (its Chroma write failed on every delivery) replayed and another purged, and a failed job retried, from
the operations screen, and the API key prompt against a second API process with keys. Every request the
page makes is recorded: none may go to another host. Screenshots go to test-results/console/."""

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support import CORPUS, free_port
from tests.support.browser import CHROMIUM, FLAGS, Console, drop_files
from tests.support.e2e import create_collection, upload

COLLECTION = "console-demo"
ENCRYPTED = CORPUS / "awkward" / "encrypted" / "pypdf_encrypted-file_pw-test.pdf"
DROPPED = [CORPUS / "md" / "duck.md", CORPUS / "docx" / "lorem_ipsum.docx", CORPUS / "pdf" / "multi_page.pdf"]
UI_TIMEOUT_MS = 240_000  # an ingest on two shared cores; a wait, not a measure

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} missing: make setup-chromium installs it"),
    pytest.mark.skipif(not all(p.is_file() for p in [*DROPPED, ENCRYPTED]), reason=f"{CORPUS} is absent"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=30_000)  # waits, on two shared cores; not a measure
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def console(stack, browser: Browser) -> Iterator[Console]:
    console = Console(browser, stack.api.removesuffix("/api/v1"))
    yield console
    console.context.close()
    assert console.requests, "the page made no request at all"
    assert not console.foreign, f"requests to other hosts: {console.foreign}"


def search_in(page: Page, query: str) -> None:
    page.get_by_label("Query").fill(query)
    page.get_by_label("Top k").fill("5")
    for box in page.get_by_role("group", name="Collections").get_by_role("checkbox").all():
        label = box.evaluate("b => b.parentElement.textContent.trim()")
        box.set_checked(label == COLLECTION)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_text("results (")).to_be_visible()


def test_upload_search_open_and_delete_through_the_console(console: Console) -> None:
    page = console.page
    page.goto(f"{console.origin}/console")  # the one line the README gives
    assert page.url == f"{console.origin}/console/"
    expect(page.get_by_role("heading", name="Collections", exact=True)).to_be_visible()

    # An API error is shown with its code and message, and the form stays usable.
    page.get_by_label("Name").fill("Not A Name!")
    page.get_by_role("button", name="Create").click()
    expect(page.locator('.error[data-code="invalid_request"]')).to_contain_text("name")

    page.get_by_label("Name").fill(COLLECTION)
    page.get_by_label("Chunking strategy").select_option("markdown")
    page.get_by_role("button", name="Create").click()
    expect(page.locator(f'tr[data-collection="{COLLECTION}"]')).to_be_visible()

    page.locator(f'tr[data-collection="{COLLECTION}"] a').click()
    expect(page.get_by_role("heading", name=f"Upload to {COLLECTION}")).to_be_visible()
    drop_files(page, '[data-testid="dropzone"]', DROPPED)
    bars = page.locator(".uploads .job")
    expect(bars).to_have_count(3)
    # Each bar follows its job's events to the end: all three reach done, none fails.
    expect(page.locator('.uploads .job[data-status="succeeded"]')).to_have_count(3, timeout=UI_TIMEOUT_MS)
    for bar in bars.all():
        expect(bar.locator(".job-state")).to_have_text("done")
        assert bar.locator("progress").evaluate("p => p.value") == 100
    # The keyboard reaches the drop zone too; the same bytes again are refused, with the API's code.
    page.get_by_test_id("dropzone").focus()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(str(DROPPED[0]))
    expect(page.locator('.uploads [data-code="duplicate"]')).to_be_visible()

    page.get_by_role("button", name="Refresh").click()
    for path in DROPPED:
        expect(page.get_by_role("link", name=path.name)).to_be_visible()
    console.shot("documents")

    page = console.open("collections")
    row = page.locator(f'tr[data-collection="{COLLECTION}"]')
    expect(row.locator("td").nth(1)).to_have_text("3")
    console.shot("collections")

    page = console.open("search")
    search_in(page, "swimming in the lake")
    first = page.locator(".hit").first
    expect(first.locator(".hit-file")).to_have_text("duck.md")
    marks = [m.lower() for m in first.locator("mark").all_inner_texts()]
    # Highlights mark the query's words as the text has them (after stemming), and nothing else.
    assert "swimming" in marks and set(marks) <= {"swimming", "in", "the", "lake"}, marks
    for side in ("fused", "dense", "lexical"):
        expect(first.locator(".scores dt", has_text=side)).to_be_visible()
    duck_id = first.get_attribute("data-document")
    console.shot("search")

    first.locator(".hit-file").click()
    expect(page.get_by_role("heading", name="duck.md")).to_be_visible()
    expect(page.get_by_test_id("document-status")).to_have_text("ready")
    chunks = page.locator(".chunk")
    expect(chunks.first).to_be_visible()
    assert any("swim" in text.lower() for text in chunks.all_inner_texts())
    headings = page.locator(".chunk .heading-path").all_inner_texts()
    # "Swimming in the lake › Let's swim!"
    assert any("swim" in heading.lower() for heading in headings), headings
    console.shot("document")

    # The original comes back byte for byte (fetched with the key header, saved as its filename).
    with page.expect_download() as download:
        page.get_by_role("button", name="Download original").click()
    assert download.value.suggested_filename == "duck.md"
    assert Path(download.value.path()).read_bytes() == DROPPED[0].read_bytes()

    # Metadata edited here is what the list's filter and a search's filter see.
    page.get_by_label("Metadata (JSON object)").fill('{"team": "pond"}')
    page.get_by_role("button", name="Save metadata").click()
    expect(page.get_by_label("Metadata (JSON object)")).to_have_value('{\n  "team": "pond"\n}')
    page = console.open(f"documents/{COLLECTION}")
    page.get_by_label("Metadata (key=value, …)").fill("team=pond")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="duck.md")).to_be_visible()
    page = console.open("search")
    page.get_by_label("Filters (JSON, a Chroma where on document metadata; optional)").fill(
        '{"team": "pond"}'
    )
    search_in(page, "word processor")  # another document's words: the filter leaves only duck.md's chunks
    expect(page.locator(".hit").first).to_be_visible()
    assert set(page.locator(".hit").evaluate_all("hits => hits.map(h => h.dataset.document)")) == {duck_id}
    page.get_by_label("Filters (JSON, a Chroma where on document metadata; optional)").fill("")

    page = console.open(f"document/{duck_id}")
    expect(page.get_by_test_id("document-status")).to_have_text("ready")

    page.get_by_role("button", name="Delete document").click()
    page.get_by_role("button", name="Confirm delete").click()
    # The delete job's bar runs to its end, and the console goes back to the collection's documents.
    expect(page.get_by_role("heading", name="Documents")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("link", name="lorem_ipsum.docx")).to_be_visible()  # the list has loaded
    expect(page.get_by_role("link", name="duck.md")).to_have_count(0)

    page = console.open("search")
    search_in(page, "swimming in the lake")
    expect(page.locator(f'.hit[data-document="{duck_id}"]')).to_have_count(0)


def test_a_drop_of_more_files_than_the_browser_has_connections_all_reach_done(
    stack, console: Console
) -> None:
    """Twelve jobs at once: three bars stream, the others poll until a stream is free, and the lists still
    answer meanwhile (a bar per open stream would take all six of the browser's connections)."""
    with stack.client() as client:
        create_collection(client, "console-many")
    files = {
        f"note-{n:02}.md": f"# Note {n}\n\nHarbour note {n} about tides and ropes.\n".encode()
        for n in range(12)
    }
    page = console.open("documents/console-many")
    expect(page.get_by_role("heading", name="Upload to console-many")).to_be_visible()
    drop_files(page, '[data-testid="dropzone"]', files)
    expect(page.locator(".uploads .job")).to_have_count(12)
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("tbody tr").first).to_be_visible()  # the list answered while the bars run
    expect(page.locator('.uploads .job[data-status="succeeded"]')).to_have_count(12, timeout=UI_TIMEOUT_MS)

    # The collection goes with its delete job's bar, and leaves the list once that job is done.
    page = console.open("collections")
    page.get_by_role("button", name="Delete collection console-many").click()
    page.get_by_role("button", name="Confirm delete console-many").click()
    bar = page.locator(".job", has_text="Deleting collection console-many")
    expect(bar).to_have_attribute("data-status", "succeeded", timeout=UI_TIMEOUT_MS)
    expect(page.locator('tr[data-collection="console-many"]')).to_have_count(0)


def wait_status(client: httpx.Client, job_id: str, wanted: str, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while (job := client.get(f"/jobs/{job_id}").json())["status"] != wanted:
        assert time.monotonic() < deadline and job["status"] not in {"succeeded", "failed", "dead"} - {
            wanted
        }, job
        time.sleep(0.5)
    return job


def test_dead_and_failed_jobs_are_handled_from_the_operations_screen(stack, console: Console) -> None:
    chroma = stack.services[1]
    with stack.client() as client:
        create_collection(client, "console-ops")
        # A password-protected PDF without its password fails for good (not retryable): a failed job.
        failed = upload(client, "console-ops", "locked.pdf", ENCRYPTED.read_bytes())["job_id"]
        wait_status(client, failed, "failed")
        chroma.stop()  # every delivery's write to Chroma fails: retries run out and the jobs die
        try:
            dead = [
                upload(
                    client,
                    "console-ops",
                    f"{name}.md",
                    f"# {name}\n\nThe {name} keeper trims wicks.\n".encode(),
                )["job_id"]
                for name in ("lantern", "beacon")
            ]
            for job_id in dead:
                wait_status(client, job_id, "dead")
        finally:
            chroma.start()
            chroma.wait_ready(120)
    replayed, purged = dead

    page = console.open("operations")
    expect(page.get_by_role("heading", name="Health")).to_be_visible()
    expect(page.locator('.health li[data-ok="true"]', has_text="chroma")).to_be_visible()
    expect(page.locator(".health li", has_text="compute")).not_to_have_count(0)
    for job_id in dead:
        expect(page.locator(f'tr[data-dead-job="{job_id}"]')).to_contain_text("retries_exhausted")
    failed_row = page.locator(f'tr[data-job="{failed}"]')
    expect(failed_row).to_contain_text("encrypted_document")
    with page.expect_response(
        lambda r: r.url.endswith("/admin/reconcile") and r.request.method == "POST"
    ) as ran:
        page.get_by_role("button", name="Run reconcile now").click()
    assert ran.value.ok, ran.value.status
    # The report shown is the round just run, not one an earlier test left.
    expect(page.locator(f'[data-finished-at="{ran.value.json()["finished_at_ms"]}"]')).to_be_visible()
    console.shot("operations")

    page.get_by_role("button", name=f"Replay job {replayed}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Job {replayed} queued again")
    page.get_by_role("button", name=f"Purge dead letter of job {purged}").click()
    expect(page.locator(f'tr[data-dead-job="{replayed}"]')).to_have_count(0)
    expect(page.locator(f'tr[data-dead-job="{purged}"]')).to_have_count(0)

    with httpx.Client(base_url=stack.api, timeout=30) as client:
        before = client.get(f"/jobs/{failed}").json()
        with page.expect_response(lambda r: r.url.endswith(f"/jobs/{failed}/retry")) as retried:
            page.get_by_role("button", name=f"Retry job {failed}").click()
        assert retried.value.ok, retried.value.status
        expect(page.locator('[role="alert"]')).to_have_count(0)
        # The retry ran the job again (it fails again: still no password), after the click.
        deadline = time.monotonic() + 120
        while (job := client.get(f"/jobs/{failed}").json())["finished_at_ms"] == before["finished_at_ms"]:
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
        assert wait_status(client, failed, "failed")["error"]["code"] == "encrypted_document"

        job = wait_status(client, replayed, "succeeded")
        assert client.get(f"/documents/{job['document_id']}").json()["status"] == "ready"
        # A purged letter leaves its job dead (it can still be replayed from the API), out of the queue.
        assert client.get(f"/jobs/{purged}").json()["status"] == "dead"
        assert purged not in {letter["job_id"] for letter in client.get("/dlq").json()["items"]}


def test_the_console_asks_for_the_api_key_once_per_session(stack, browser: Browser, tmp_path: Path) -> None:
    """A second API process on the same stack, with keys: the console asks for one, says when it is
    refused, keeps it in session storage (a reload does not ask again), and a new session asks again."""
    api = stack.services[-1]
    key = "k" * 40
    port = free_port()
    keyed = replace(
        api,
        name="orchestrator-keyed",
        ready=f"http://127.0.0.1:{port}/readyz",
        env={
            **api.env,
            "ORCH_PORT": str(port),
            "ORCH_API_KEYS": key,
            "ORCH_API_WORKERS": "0",
            "ORCH_LEXICAL_DIR": str(tmp_path / "lexical"),
        },
    )
    keyed.log = open(tmp_path / "orchestrator-keyed.log", "a")  # noqa: SIM115 (closed below)
    keyed.start()
    try:
        keyed.wait_ready(120)
        origin = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=f"{origin}/api/v1", headers={"Authorization": f"Bearer {key}"}) as client:
            create_collection(client, "console-keyed")
        console = Console(browser, origin)
        page = console.open("collections")
        prompt = page.get_by_role("heading", name="API key")
        expect(prompt).to_be_visible()
        expect(page.locator('.error[data-code="unauthorized"]')).to_be_visible()

        page.get_by_role("textbox", name="API key").fill("w" * 40)
        page.get_by_role("button", name="Use key").click()
        expect(page.get_by_text("the one given was refused")).to_be_visible()

        page.get_by_role("textbox", name="API key").fill(key)
        page.get_by_role("button", name="Use key").click()
        expect(prompt).to_have_count(0)
        expect(page.locator('tr[data-collection="console-keyed"]')).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('docsearch.apiKey')") == key
        assert page.evaluate("localStorage.length") == 0  # never kept past the session

        page.reload()
        expect(page.locator('tr[data-collection="console-keyed"]')).to_be_visible()
        expect(prompt).to_have_count(0)
        assert not console.foreign, console.foreign
        console.context.close()

        fresh = Console(browser, origin)
        expect(fresh.open("operations").get_by_role("heading", name="API key")).to_be_visible()
        fresh.context.close()
        assert not fresh.foreign, fresh.foreign
    finally:
        keyed.stop()
        keyed.log.close()
