"""/livez, /readyz (Redis, Chroma and at least one compute replica, each reported) and /metrics."""

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orchestrator.api.deps import ServicesDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 3.0


async def _check(name: str, probe: Any) -> tuple[str, dict[str, Any]]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            result = await probe
    except Exception as exc:
        return name, {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    if isinstance(result, dict):  # compute: per replica
        return name, {"ok": any(result.values()), "replicas": result}
    return name, {"ok": bool(result) or result is None}


@router.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(s: ServicesDep) -> JSONResponse:
    checks = dict(
        await asyncio.gather(
            _check("redis", s.redis.ping()),
            _check("chroma", s.vectors.heartbeat()),
            _check("compute", s.compute.replicas_ready()),
        )
    )
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
