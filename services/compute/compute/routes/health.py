"""Liveness, readiness, models and Prometheus metrics."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from compute.deps import State
from compute.embedding import cpu_model_name, has_fast_bf16, has_vnni
from compute.state import AppState
from contracts import ModelInfo, ModelsResponse

router = APIRouter()


@router.get("/livez")
async def livez() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state: AppState = request.app.state.compute
    checks = {
        "models": bool(state.models) and state.ready,
        "parse_workers": bool(state.parse_pool and state.parse_pool.ready),
    }
    ok = all(checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/models", response_model=ModelsResponse)
async def models(state: State) -> ModelsResponse:
    infos = [
        ModelInfo(
            name=m.name,
            path=str(m.path),
            dim=m.dim,
            max_seq_length=m.max_seq_length,
            backend=m.backend,
            dtype=m.dtype,
            default=m.name == state.settings.default_model,
            selection=m.selection,
        )
        for m in state.models.values()
    ]
    return ModelsResponse(
        models=infos,
        cpu_bf16=has_fast_bf16(),
        threads=state.settings.embed_threads,
        cpu_vnni=has_vnni(),
        cpu_model=cpu_model_name(),
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    state: AppState = request.app.state.compute
    if state.embed_queue is not None:
        state.metrics.embed_pending.set(state.embed_queue.pending_texts)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
