"""The `docsearch` command-line client (`python -m orchestrator.cli`)."""

from orchestrator.cli.app import main, run

__all__ = ["main", "run"]
