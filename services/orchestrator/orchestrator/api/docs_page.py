"""/docs, where the schema is served (dev mode, or ORCH_PUBLIC_DOCS=true): one self-contained page that
links to /openapi.json. No Swagger UI or ReDoc: both load their scripts from a CDN."""

import html

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

DOCS_PATH = "/docs"

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}: API</title></head>
<body>
<h1>{title}</h1>
<p>The OpenAPI document of this API: <a href="{schema}">{schema}</a>.</p>
<p>What each route does, its limits and its error codes: <code>docs/api.md</code> in the repository;
the published schema is its <code>docs/openapi.json</code>.</p>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    page = _PAGE.format(title=html.escape(app.title), schema=html.escape(app.openapi_url or ""))

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(page)
