"""Debian's chromium driven by Playwright for the console's browser tests: the browser's flags, a page
that records every request it makes (and refuses those to other hosts), and a drag-and-drop of files."""

import base64
import mimetypes
import os
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Route

from tests.support import REPO

CHROMIUM = Path(os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium"))
SHOTS = REPO / "test-results" / "console"
# Nothing in the background: no component updates, no safe-browsing or metrics calls, no first-run pages.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]


class Console:
    """One page of the console, with every request it made."""

    def __init__(self, browser: Browser, origin: str):
        self.origin = origin
        self.requests: list[str] = []
        self.foreign: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        # What the page's CSP blocks never reaches the route above: Chromium reports it on the console.
        self.page.on(
            "console",
            lambda message: "Content Security Policy" in message.text and self.foreign.append(message.text),
        )

    def _route(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == self.origin:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def open(self, screen: str) -> Page:
        self.page.goto(f"{self.origin}/console/#/{screen}")
        return self.page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def drop_files(page: Page, target: str, files: list[Path] | dict[str, bytes]) -> None:
    """Drops files on `target` the way a user's drag from the desktop does: a DataTransfer holding them."""
    named = files if isinstance(files, dict) else {f.name: f.read_bytes() for f in files}
    payload = [
        {
            "name": name,
            "type": mimetypes.guess_type(name)[0] or "application/octet-stream",
            "b64": base64.b64encode(data).decode(),
        }
        for name, data in named.items()
    ]
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return transfer;
        }""",
        payload,
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(target, event, {"dataTransfer": transfer})
