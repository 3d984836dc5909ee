"""A structure-aware fuzzer of Kineto documents (issue 12), shared by tests/test_fuzz.py (a
short CI profile) and bench/fuzz.py (a long one): valid documents are generated, then their
fields, types, nesting and bytes are mutated, and each one goes through the real loader.

The property: a load either succeeds with every event of the document loaded or listed in
ingest_issues (events read = loaded + skipped), or fails with an InputError of one line;
never another exception, and never a file left in TMPDIR.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

from hypothesis import strategies as st

from anemoi_tp.database import connect
from anemoi_tp.errors import InputError
from anemoi_tp.ingest import load_traces

PHASES = ["X", "B", "E", "i", "C", "s", "f", "M", "b", "e"]
ODD_VALUES = st.one_of(
    st.booleans(),
    st.none(),
    st.text(max_size=5),
    st.just(1e30),
    st.just(1e17),
    st.just(-1e17),
    st.just(2**64),
    st.just(-(2**63)),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def events(draw):
    ph = draw(st.sampled_from(PHASES))
    e = {
        "ph": ph,
        "cat": draw(st.sampled_from(["cpu_op", "kernel", "cuda_runtime", "user_annotation"])),
        "name": draw(st.text(max_size=8)),
        "pid": draw(st.integers(0, 4)),
        "tid": draw(st.integers(0, 4)),
        "ts": draw(st.one_of(st.integers(0, 10**15), st.floats(0, 1e12).map(lambda x: round(x, 3)))),
    }
    if ph == "X":
        e["dur"] = draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        e["args"] = draw(
            st.dictionaries(
                st.sampled_from(["correlation", "External id", "stream", "x"]), st.integers(0, 100), max_size=3
            )
        )
    return e


@st.composite
def mutated_event(draw):
    e = draw(events())
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["retype", "delete", "nest"]))
        key = draw(st.sampled_from(["ph", "ts", "dur", "name", "pid", "tid", "args", "cat"]))
        if op == "retype":
            e[key] = draw(ODD_VALUES)
        elif op == "delete":
            e.pop(key, None)
        else:
            e[key] = {"nested": [e.get(key)]}
    return e


@st.composite
def documents(draw) -> bytes:
    """A document's bytes: mostly Kineto objects, sometimes the bare array; mutated."""
    evs = draw(st.lists(st.one_of(events(), mutated_event()), min_size=0, max_size=12))
    top = {"schemaVersion": 1}
    if draw(st.booleans()):
        top["distributedInfo"] = {"rank": draw(st.one_of(st.integers(0, 3), ODD_VALUES))}
    if draw(st.booleans()):
        top["baseTimeNanoseconds"] = draw(st.one_of(st.integers(0, 2**62), ODD_VALUES))
    if draw(st.booleans()):
        doc = dict(top, traceEvents=evs)
    else:
        doc = evs
    data = json.dumps(doc, indent=draw(st.sampled_from([None, 1]))).encode()
    mutation = draw(st.sampled_from(["none", "none", "truncate", "flip", "bom", "dup_key", "nan", "non_object"]))
    if mutation == "truncate" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif mutation == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    elif mutation == "bom":
        data = b"\xef\xbb\xbf" + data
    elif mutation == "dup_key":
        data = data.replace(b'"ts": ', b'"ts": 1, "ts": ', 1)
    elif mutation == "nan":
        data = data.replace(b'"dur": 0', b'"dur": NaN', 1)
    elif mutation == "non_object":
        data = data.replace(b"[{", b"[5, {", 1)
    return data


def count_events(data: bytes) -> int | None:
    """Events in the document when it is valid JSON (Python's reading), else None."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return None
    evs = doc.get("traceEvents") if isinstance(doc, dict) else doc
    return len(evs) if isinstance(evs, list) else None


def check_document(data: bytes, folder: Path) -> str:
    """Load one document; assert the property; return the outcome ('loaded' or the error)."""
    path = folder / "t.json"
    path.write_bytes(data)
    tmp = folder / "tmp"
    tmp.mkdir(exist_ok=True)
    con = connect()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = load_traces(con, path, tmpdir=str(tmp))
            except InputError as exc:
                assert "\n" not in str(exc), repr(str(exc))
                assert str(exc), "an empty message"
                outcome = "refused: " + exc.problem.split(":")[0].split("(")[0].strip()
            else:
                n = count_events(data)
                rows = con.execute("SELECT count(*), count(issue) FROM trace_events").fetchone()
                assert rows == (result.events + result.skipped, result.skipped)
                listed = con.execute(
                    "SELECT coalesce(sum(events), 0) FROM ingest_issues WHERE engine = 'kineto' AND events IS NOT NULL"
                ).fetchone()[0]
                assert listed == result.skipped, (listed, result.skipped)
                if n is not None:
                    assert result.events + result.skipped == n, (n, result.events, result.skipped)
                outcome = "loaded"
    finally:
        con.close()
    assert list(tmp.iterdir()) == [], list(tmp.iterdir())
    return outcome


def fresh_folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="anemoi-tp-fuzz-"))


__all__ = ["check_document", "documents", "fresh_folder", "os"]
