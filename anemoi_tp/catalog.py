"""The documentation of the public tables and views, read from the SQL files' headers.

The SQL files are the single source: each documents its table or view with
``-- @view NAME description`` (or ``@table``) and ``-- @column NAME description`` lines, with
continuation lines indented under the description.

Each file's first line names it and its version: ``-- dir/name.sql (version N): what it is``.
``queries/VERSIONS.json`` records {file: {version, sha256}}; a file whose content differs from
its entry must have a higher version (tests/test_query_docs.py). After bumping, refresh it with
``python -m anemoi_tp.catalog --update-manifest``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

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


MANIFEST = "VERSIONS.json"
UPDATE = "python -m anemoi_tp.catalog --update-manifest"
_HEADER = re.compile(r"^-- (\S+\.sql) \(version (\d+)\): \S")


def header(path: Path, root: Path) -> tuple[int | None, str | None]:
    """(version, problem) of one SQL file's first line; problem is None when it is well formed."""
    rel = path.relative_to(root).as_posix()
    lines = path.read_text().splitlines()
    m = _HEADER.match(lines[0] if lines else "")
    if not m:
        return None, f"{rel}: first line must be `-- {rel} (version N): what it is`"
    if m.group(1) != rel:
        return int(m.group(2)), f"{rel}: its header names {m.group(1)}"
    return int(m.group(2)), None


def sql_facts(root: Path | None = None) -> dict[str, dict]:
    """{file: {"version", "sha256"}} of every SQL file under ``root`` (default: queries/)."""
    root = root or resource_dir("queries")
    out = {}
    for path in sorted(root.rglob("*.sql")):
        # CRLF checkouts hash like LF ones
        digest = hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()
        out[path.relative_to(root).as_posix()] = {"version": header(path, root)[0], "sha256": digest}
    return out


def read_manifest(root: Path | None = None) -> dict[str, dict]:
    path = (root or resource_dir("queries")) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def manifest_problems(root: Path | None = None) -> tuple[list[str], list[str]]:
    """(needs a bump, needs a refresh): what differs between the SQL files and the manifest.

    The first list can only be fixed by editing a header line; the second by ``UPDATE``.
    """
    root = root or resource_dir("queries")
    now, known = sql_facts(root), read_manifest(root)
    bump, refresh = [], []
    for path in sorted(root.rglob("*.sql")):
        problem = header(path, root)[1]
        if problem:
            bump.append(problem)
    for f, cur in now.items():
        old = known.get(f)
        if cur["version"] is None:
            continue  # reported above
        if old is None:
            refresh.append(f"{f}: new file, not in {MANIFEST}: run `{UPDATE}`")
        elif cur["version"] < old["version"]:
            bump.append(f"{f}: version {cur['version']} is below the {MANIFEST} entry's "
                        f"{old['version']}: versions only go up")
        elif cur["sha256"] != old["sha256"] and cur["version"] == old["version"]:
            bump.append(f"{f}: content changed but it is still version {cur['version']}: "
                        f"set `(version {cur['version'] + 1})` in its first line, "
                        f"then run `{UPDATE}`")
        elif cur != old:
            refresh.append(f"{f}: version {cur['version']}, {MANIFEST} still has "
                           f"{old['version']}: run `{UPDATE}`")
    for f in sorted(set(known) - set(now)):
        refresh.append(f"{f}: listed in {MANIFEST} but the file is gone: run `{UPDATE}`")
    return bump, refresh


def update_manifest(root: Path | None = None, force: bool = False) -> list[str]:
    """Rewrite the manifest from the files; refused (the problems returned) while a changed
    file still has its old version, unless ``force``."""
    root = root or resource_dir("queries")
    bump, _ = manifest_problems(root)
    if bump and not force:
        return bump
    facts = {f: v for f, v in sql_facts(root).items() if v["version"] is not None}
    (root / MANIFEST).write_text(json.dumps(facts, indent=2) + "\n")
    return []


def main(argv: list[str] | None = None) -> int:
    """Developer command: check or refresh queries/VERSIONS.json."""
    ap = argparse.ArgumentParser(prog="python -m anemoi_tp.catalog", description=main.__doc__)
    ap.add_argument("--update-manifest", action="store_true",
                    help=f"rewrite {MANIFEST} from the SQL files (refused where a changed file "
                         "kept its version)")
    ap.add_argument("--force", action="store_true",
                    help="with --update-manifest: record changed files even without a version bump")
    args = ap.parse_args(argv)
    if args.update_manifest:
        problems = update_manifest(force=args.force)
        if not problems:
            print(f"{resource_dir('queries') / MANIFEST}: {len(read_manifest())} files")
            return 0
    else:
        bump, refresh = manifest_problems()
        problems = bump + refresh
        if not problems:
            print(f"{MANIFEST}: up to date")
            return 0
    for p in problems:
        print(f"queries/{p}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
