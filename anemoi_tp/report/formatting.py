"""How numbers show in text, HTML and Markdown reports: a missing one is "—", never 0."""
from __future__ import annotations

from typing import Any

MISSING = "—"


def num(v: Any, fmt: str = "{:.3f}") -> str:
    return MISSING if v is None else fmt.format(v)


def ms(seconds: float | None) -> str:
    """Seconds shown as milliseconds."""
    return num(None if seconds is None else seconds * 1e3)


def mib(nbytes: float | None) -> str:
    return num(None if nbytes is None else nbytes / 2**20, "{:,.1f}")
