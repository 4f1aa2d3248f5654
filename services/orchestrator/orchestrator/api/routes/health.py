"""/livez, /readyz (Redis, Chroma, at least one compute replica and the lexical index, each reported) and
/metrics."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orchestrator.api.deps import ClientsDep

router = APIRouter(tags=["health"])


@router.get("/livez")
async def get_liveness() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def get_readiness(clients: ClientsDep, request: Request) -> JSONResponse:
    """Ready when Redis, Chroma, a compute replica and this process's lexical index (caught up with the
    registry's changes) all are."""
    checks = await clients.readiness()
    if (lexical := request.app.state.search.readiness()) is not None:
        checks["lexical"] = lexical
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics")
async def get_metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
