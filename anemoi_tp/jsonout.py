"""Strict JSON for everything anemoi-tp writes: no NaN / Infinity (not JSON; many parsers
refuse them) but null, which is what a number that cannot be computed is."""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every NaN / ±inf float (at any depth) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kw: Any) -> str:
    """json.dumps that never writes NaN or Infinity (allow_nan=False after ``finite``)."""
    kw.setdefault("indent", 2)
    return json.dumps(finite(value), allow_nan=False, **kw)
