"""The orchestrator's HTTP API, /api/v1 (see app.create_app)."""

from orchestrator.api.app import create_app

__all__ = ["create_app"]
