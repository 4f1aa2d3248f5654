"""/livez, /readyz (its status only) and /metrics, unauthenticated; GET /api/v1/admin/health, the checks
behind /readyz (Redis, Chroma, each compute replica, the lexical index), behind the API key."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orchestrator.api.readiness import HealthReport, Readiness, health_report

router = APIRouter(tags=["health"])
admin_router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/livez")
async def get_liveness() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def get_readiness(request: Request) -> JSONResponse:
    """Ready (200) when Redis, Chroma, a compute replica and this process's lexical index (caught up with
    the registry's changes) all are, else 503 `not_ready`. The probes run at most once a second per process,
    whoever asks; which check fails is at GET /api/v1/admin/health."""
    report = await health_report(request)
    ready = report.status == "ready"
    return JSONResponse({"status": report.status}, status_code=200 if ready else 503)


@router.get("/metrics")
async def get_metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)


@admin_router.get("/health", response_model=HealthReport)
async def get_health_report(request: Request) -> HealthReport:
    """Each check behind /readyz with a fixed reason code where it fails (`unreachable`, `timeout`,
    `no_replica_ready`, `not_caught_up`) and compute's replicas by index: 200 whether ready or not."""
    return await health_report(request)
