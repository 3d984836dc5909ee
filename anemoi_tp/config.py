"""Analysis settings: name patterns from a TOML file and command-line options.

A TOML file replaces the default patterns of each kind it names (for phases and module
groups: of each phase or group it names; an empty list removes one) (see
queries/analysis/settings.sql for the kinds and the defaults) and the rule thresholds it
names (queries/rules/_thresholds.sql). Phases are forward, backward and optimizer; the data-loader
phase is the `data_loader` list (one list for the data-loader time and phase). A new module
group shows after the default ones, in the file's order::

    [patterns]
    batch = ['^\\[pl\\]\\[profile\\]run_training_batch$']
    data_loader = ['train_dataloader_next$']     # data-loader time and phase
    module = ['^\\[pl\\]\\[module\\][^:]*: (\\S+)$']      # group 1: the module path
    module_instance = ['^nn\\.Module: (\\S+)$']               # group 1: one instance; nesting makes the path

    [patterns.phase]
    forward = ['\\.training_step$']
    backward = ['\\.backward$']

    [patterns.phase_fallback]                      # ranks without those phase ranges
    forward = ['^## forward ##$']

    [patterns.module_group]
    encoder = ['^model\\.model\\.encoder']

    [thresholds]
    data_loader_stall = { pct_of_total = 5 }
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import duckdb

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LIST_KINDS = ("batch", "step", "data_loader", "module", "module_instance")
LABELLED_KINDS = ("phase", "phase_fallback", "module_group")
# the phases the analyses know (ownership: backward, optimizer); 'data_loader' is its own kind
PHASES = ("forward", "backward", "optimizer")


def threshold_problem(value: object) -> str | None:
    """Why ``value`` cannot be a rule threshold, or None. Booleans (TOML true is no number),
    NaN (every comparison with it is false: the rule would silently never fire), ±inf and
    negative values (thresholds are durations, shares and counts) are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is not a number: {value!r}"
    if math.isnan(value) or math.isinf(value):
        return f"must be a finite number, got {value}"
    if value < 0:
        return f"must not be negative, got {value}"
    return None


def load_config(path: Path | None) -> tuple[dict, dict]:
    """(patterns, thresholds) from a TOML file, checked; empty without a file."""
    if path is None:
        return {}, {}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not valid TOML: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, f"not valid TOML: {exc}") from None
    unknown_top = set(data) - {"patterns", "thresholds"}
    if unknown_top:
        raise InputError(path, f"unknown table(s): {', '.join(sorted(unknown_top))} "
                               "(known: patterns, thresholds)")
    thresholds = data.get("thresholds", {})
    if not isinstance(thresholds, dict) or not isinstance(data.get("patterns", {}), dict):
        raise InputError(path, "thresholds and patterns must be tables ([thresholds], [patterns])")
    if not all(isinstance(v, dict) for v in thresholds.values()):
        raise InputError(path, "thresholds.<rule> must be a table of numbers")
    for rule, values in thresholds.items():
        for name, value in values.items():
            why = threshold_problem(value)
            if why:
                raise InputError(path, f"threshold {rule}.{name} {why}")
    patterns = data.get("patterns", {})
    unknown = set(patterns) - set(LIST_KINDS) - set(LABELLED_KINDS)
    if unknown:
        raise InputError(path, f"unknown pattern kind(s): {', '.join(sorted(unknown))} "
                               f"(known: {', '.join(LIST_KINDS + LABELLED_KINDS)})")
    for kind, value in patterns.items():
        ok = (isinstance(value, list) and all(isinstance(v, str) for v in value)) if kind in LIST_KINDS \
            else (isinstance(value, dict) and all(isinstance(v, list) for v in value.values()))
        if not ok:
            raise InputError(path, f"patterns.{kind} must be "
                             + ("a list of strings" if kind in LIST_KINDS else "a table of lists"))
        if kind in ("phase", "phase_fallback"):
            for label in value:
                if label == "data_loader":
                    raise InputError(path, f"patterns.{kind}.data_loader: set patterns.data_loader "
                                           "instead (one list for the data-loader time and phase)")
                if label not in PHASES:
                    raise InputError(path, f"unknown phase patterns.{kind}.{label} "
                                           f"(known: {', '.join(PHASES)})")
    return patterns, thresholds


def merge_thresholds(thresholds: dict, options: tuple[str, ...]) -> dict:
    """--threshold RULE.NAME=VALUE options on top of the file's [thresholds]."""
    out = {k: dict(v) for k, v in thresholds.items()}
    for item in options:
        key, sep, value = item.partition("=")
        rule, dot, name = key.partition(".")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not dot or number is None:
            raise InputError(None, f"--threshold expects RULE.NAME=NUMBER, got {item!r}")
        why = threshold_problem(number)
        if why:
            raise InputError(None, f"--threshold {key} {why}")
        out.setdefault(rule, {})[name] = number
    return out


def merge_options(patterns: dict, batch: tuple[str, ...], module_groups: tuple[str, ...]) -> dict:
    """Command-line options on top of the file: --batch REGEX, --module-group NAME=REGEX."""
    out = dict(patterns)
    if batch:
        out["batch"] = list(batch)
    if module_groups:
        groups: dict[str, list[str]] = {}
        for item in module_groups:
            name, sep, regex = item.partition("=")
            if not sep or not name or not regex:
                raise InputError(None, f"--module-group expects NAME=REGEX, got {item!r}")
            groups.setdefault(name, []).append(regex)
        out["module_group"] = groups
    return out


def _label_orders(con: duckdb.DuckDBPyConnection, kind: str, labels: list[str]) -> dict[str, int]:
    """Where each label shows in the window split: a known one keeps its place, a new one
    comes after all others, in the order given (phases share their order with fallbacks)."""
    kinds = ["module_group"] if kind == "module_group" else ["phase", "phase_fallback"]
    marks = ", ".join("?" * len(kinds))
    known = dict(con.execute(f"SELECT label, min(label_order) FROM analysis_patterns "
                             f"WHERE kind IN ({marks}) GROUP BY label", kinds).fetchall())
    last = max(known.values(), default=0) or 0
    out = {}
    for label in labels:
        if known.get(label) is None:
            last += 1
            known[label] = last
        out[label] = known[label]
    return out


def apply_patterns(con: duckdb.DuckDBPyConnection, patterns: dict) -> None:
    """Replace the default patterns of every kind (phase / module group: label) given.

    Every regex is checked by DuckDB first."""
    for kind, value in patterns.items():
        if kind in LIST_KINDS:
            rows = [(kind, None, p, i, None) for i, p in enumerate(value)]
        else:
            order = _label_orders(con, kind, list(value))
            rows = [(kind, label, p, i, order[label]) for label, ps in value.items()
                    for i, p in enumerate(ps)]
        for _, _, p, _, _ in rows:
            try:
                con.execute("SELECT regexp_matches('', ?)", [p])
            except duckdb.Error as exc:
                raise InputError(None, f"bad {kind} pattern {p!r}: {str(exc).splitlines()[0]}") from None
        if kind in LIST_KINDS:
            con.execute("DELETE FROM analysis_patterns WHERE kind = ?", [kind])
        else:
            for label in value:
                con.execute("DELETE FROM analysis_patterns WHERE kind = ? AND label = ?", [kind, label])
        if rows:
            con.executemany("INSERT INTO analysis_patterns VALUES (?, ?, ?, ?, ?)", rows)
