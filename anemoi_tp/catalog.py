"""The documentation of the public tables and views, read from the SQL files' headers.

The SQL files are the single source: each documents its table or view with
``-- @view NAME description`` (or ``@table``) and ``-- @column NAME description`` lines, with
continuation lines indented under the description.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .resources import resource_dir

PUBLIC = ("events", "gpu_activities", "gpu_activity_args", "flows", "ranks", "devices", "ingest_issues")
_TAG = re.compile(r"^--\s*@(view|table|column)\s+(\S+)\s*(.*)$")
_CONT = re.compile(r"^--\s{2,}(\S.*)$")


@dataclass
class Relation:
    name: str
    kind: str  # 'view' or 'table'
    description: str
    file: str
    columns: list[tuple[str, str]] = field(default_factory=list)


def relations() -> dict[str, Relation]:
    """Every documented table and view of ``queries/``, by name."""
    root = resource_dir("queries")
    found: dict[str, Relation] = {}
    for path in sorted(root.rglob("*.sql")):
        current: Relation | None = None
        last: list | None = None  # [text] of the description a continuation extends
        for line in path.read_text().splitlines():
            m = _TAG.match(line)
            if m:
                tag, name, text = m.groups()
                if tag == "column" and current is not None:
                    current.columns.append((name, text))
                    last = ["column"]
                elif tag != "column":
                    current = Relation(name, tag, text, str(path.relative_to(root)))
                    found[name] = current
                    last = ["rel"]
                continue
            c = _CONT.match(line)
            if c and current is not None and last:
                if last[0] == "column" and current.columns:
                    n, t = current.columns[-1]
                    current.columns[-1] = (n, f"{t} {c.group(1)}")
                else:
                    current.description += " " + c.group(1)
                continue
            last = None
    return found
