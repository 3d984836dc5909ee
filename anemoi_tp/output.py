"""Query results as a text table, CSV or JSON."""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from typing import Any

from .jsonout import dumps as strict_json

FORMATS = ("table", "csv", "json")


def _jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def rows_as_json(columns: list[str], types: list[str], rows: list[tuple],
                 source: str | None = None) -> str:
    """A JSON array of row objects; JSON-typed columns are embedded as JSON, not as strings.
    A value nested too deeply for Python's JSON is bad input (InputError), not a crash."""
    try:
        return _rows_as_json(columns, types, rows)
    except RecursionError:
        from .errors import InputError
        raise InputError(source, "a value is nested too deeply for JSON output (try -f csv, or "
                               "select a part of it)") from None


def _rows_as_json(columns: list[str], types: list[str], rows: list[tuple]) -> str:
    out = []
    for row in rows:
        obj = {}
        for name, typ, value in zip(columns, types, row):
            if typ == "JSON" and isinstance(value, str):
                value = json.loads(value)
            obj[name] = _jsonable(value)
        out.append(obj)
    return strict_json(out, ensure_ascii=False)


def rows_as_csv(columns: list[str], rows: list[tuple]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def rows_as_table(columns: list[str], rows: list[tuple], max_width: int = 60) -> str:
    """An aligned plain-text table; NULL shows as 'NULL', long cells are cut with '…'."""
    def cell(v: Any) -> str:
        s = "NULL" if v is None else str(v)
        s = s.replace("\n", " ")
        return s if len(s) <= max_width else s[: max_width - 1] + "…"
    body = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(columns)]
    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()
    out = [line(columns), line(["-" * w for w in widths])]
    out += [line(r) for r in body]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def render(fmt: str, columns: list[str], types: list[str], rows: list[tuple],
           source: str | None = None) -> str:
    """The rows in ``fmt``; ``source`` (what they were read from) names bad input."""
    if fmt == "json":
        return rows_as_json(columns, types, rows, source)
    if fmt == "csv":
        return rows_as_csv(columns, rows)
    return rows_as_table(columns, rows)
