"""Errors that the CLI turns into a one-line message and exit status 2."""
from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input: names the file and the problem in one line."""

    def __init__(self, path: str | Path | None, problem: str) -> None:
        self.path = str(path) if path is not None else None
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)
