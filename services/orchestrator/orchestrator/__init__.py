"""Orchestrator service: all state (Redis, Chroma), the job queue and workers, and /api/v1."""
