"""The operator console at /console: the static files `make setup` builds from services/orchestrator/console
(TypeScript, React, Vite), served from the same origin as /api/v1 so the browser needs no CORS.

The files are public (the console asks for an API key and sends it to /api/v1 itself). A Content Security
Policy keeps every request the page makes on this origin: nothing from a CDN, nothing to another host.
Hashed assets are cached for good; index.html is revalidated, so a rebuilt console is picked up at once.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from orchestrator.api.errors import ApiError
from orchestrator.errors import OrchErrorCode

MOUNT = "/console"
# Where the build puts the files: services/orchestrator/console/dist, beside this package.
BUILT_DIR = Path(__file__).resolve().parents[2] / "console" / "dist"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _not_built(directory: Path) -> ApiError:
    return ApiError(
        404,
        OrchErrorCode.console_not_built,
        f"no built console in {directory}: run `make setup` (or `npm ci && npm run build` in "
        "services/orchestrator/console), or point ORCH_CONSOLE_DIR at a built one",
    )


class ConsoleFiles(StaticFiles):
    def __init__(self, directory: Path):
        # check_dir=False: a server without a built console still starts; /console says what to run.
        super().__init__(directory=directory, html=True, check_dir=False)
        self.built = directory / "index.html"

    def ensure_built(self) -> None:
        if not self.built.is_file():
            raise _not_built(self.built.parent)

    async def check_config(self) -> None:
        self.ensure_built()
        await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        hashed = path.startswith("assets/") and response.status_code == 200
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if hashed else "no-cache"
        return response


def install(app: FastAPI, configured_dir: str) -> None:
    files = ConsoleFiles(Path(configured_dir) if configured_dir else BUILT_DIR)

    @app.get(MOUNT, include_in_schema=False)
    async def console_root() -> Response:
        files.ensure_built()
        return RedirectResponse(MOUNT + "/", status_code=307)  # the page lives at /console/

    app.mount(MOUNT, files, name="console")
