"""/api/v1/admin: operator actions."""

from fastapi import APIRouter, Depends, Query

import orchestrator.api.ratelimit as ratelimit
from orchestrator.api.deps import ClientsDep
from orchestrator.ingest import Reconciler, ReconcileReport, last_report

router = APIRouter(prefix="/admin", tags=["admin"])

# The bound of ORCH_RECONCILE_GRACE_S: past it (1.8e308 is inf) the cutoff's arithmetic overflows.
MAX_GRACE_S = 7 * 86_400


@router.post(
    "/reconcile",
    response_model=ReconcileReport,
    dependencies=[Depends(ratelimit.reconciles)],
    responses={409: {"description": "`reconcile_running`: a round runs already (`running_since_ms`)"}},
)
async def run_reconcile(
    clients: ClientsDep,
    grace_s: float | None = Query(
        None,
        ge=0,
        le=MAX_GRACE_S,
        allow_inf_nan=False,
        description="override ORCH_RECONCILE_GRACE_S for this run",
    ),
) -> ReconcileReport:
    """Deletes vectors no document vouches for (missing, failed, deleting, old generations) once past the
    grace period, fails documents whose job ended without them, and reports what it did. One round runs
    at a time in the deployment: while one runs (periodic or asked), this answers 409
    `reconcile_running` with `running_since_ms`."""
    return await Reconciler(clients, grace_s=grace_s).run()


@router.get("/reconcile", response_model=ReconcileReport)
async def get_reconcile_report(clients: ClientsDep) -> ReconcileReport:
    """The latest reconcile round's report (periodic or on demand, by any API process); 404 before one."""
    return await last_report(clients)
