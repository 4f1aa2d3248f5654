"""Dependency aliases for routes."""

from typing import Annotated

from fastapi import Depends, Request

from compute.errors import ComputeError
from compute.state import AppState
from contracts import ErrorCode


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.compute
    if not state.ready:
        raise ComputeError(
            ErrorCode.not_ready, "models are still loading", retry_after_s=state.settings.retry_after_s
        )
    return state


State = Annotated[AppState, Depends(get_state)]
