"""Errors a source raises when retrying cannot help."""

from __future__ import annotations


class SourceConfigurationError(RuntimeError):
    """A permanent answer from a source API (401, 403, unknown counter/application/login…).

    The message names the source, what the API said, and what to change (which credential or
    setting, under which dlt config key or environment variable). The ingest run reports it for
    this source and goes on with the others.
    """

    def __init__(self, source: str, problem: str, fix: str) -> None:
        super().__init__(f"{source}: {problem}. {fix}")
        self.source = source
        self.problem = problem
        self.fix = fix
