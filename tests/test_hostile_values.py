"""Odd values in traces and thresholds (issue 12, class 7): out-of-range or mistyped ts/dur
are skipped events listed in ingest_issues (never a NULL that vanishes, never an aborted
file, never a coercion); bad thresholds are bad input; JSON output is strict; a BOM is fine;
the two engines agree on duplicate keys and NaN."""

from __future__ import annotations

import json
import warnings

import pytest

from anemoi_tp.errors import InputError

from conftest import load, write_trace
from test_cli import run


def X(name, ts, dur):
    return {"ph": "X", "cat": "cpu_op", "name": name, "pid": 1, "tid": 1, "ts": ts, "dur": dur}


def _issues(con) -> dict[str, list[str]]:
    rows = con.execute("SELECT issue, name FROM trace_events WHERE issue IS NOT NULL ORDER BY rowid").fetchall()
    out: dict[str, list[str]] = {}
    for issue, name in rows:
        out.setdefault(issue, []).append(name)
    return out


def test_out_of_range_and_mistyped_times_are_skipped_and_listed(tmp_path):
    path = write_trace(
        tmp_path / "t.json",
        [
            X("good", 10, 5),
            X("huge_ts", 1e30, 5),  # was: ts NULL, no issue (the event vanished from windows)
            X("huge_dur", 20, 1e30),  # was: dur NULL, no issue
            X("overflow_ts", 1e17, 5),  # was: INT64 overflow, the whole file rejected
            X("bool_ts", True, 5),  # was: 1 µs
            X("string_ts", "30", 5),  # was: 30 µs
            X("bool_dur", 40, False),  # was: 0 µs
            X("list_ts", [1], 5),  # was: the whole file rejected (cast error)
            X("good2", 50, 1),
        ],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        con, result = load(path)
    assert con.execute("SELECT name, ts, dur FROM events WHERE ph = 'X' ORDER BY ts").fetchall() == [
        ("good", 10_000, 5_000),
        ("good2", 50_000, 1_000),
    ]
    assert _issues(con) == {
        "ts out of range": ["huge_ts", "overflow_ts"],
        "dur out of range": ["huge_dur"],
        "ts is not a number": ["bool_ts", "string_ts", "list_ts"],
        "dur is not a number": ["bool_dur"],
    }
    assert (result.events, result.skipped) == (2, 7)
    counts = dict(con.execute("SELECT issue, events FROM ingest_issues").fetchall())
    assert counts == {"ts out of range": 2, "dur out of range": 1, "ts is not a number": 3, "dur is not a number": 1}


def test_times_at_the_edge_of_the_range_are_exact(tmp_path):
    # 2^52 - 1 µs is the largest ts kept: 4503599627370495 µs = 4503599627370495000 ns
    path = write_trace(tmp_path / "t.json", [X("edge", 4503599627370495, 1), X("over", 4503599627370496, 1)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        con, _ = load(path)
    assert con.execute("SELECT name, ts FROM events").fetchall() == [("edge", 4503599627370495000)]
    assert _issues(con) == {"ts out of range": ["over"]}


def test_base_time_out_of_range_is_bad_input(tmp_path):
    path = write_trace(tmp_path / "t.json", [X("a", 1, 1)], baseTimeNanoseconds=1 << 63)
    with pytest.raises(InputError, match="baseTimeNanoseconds is out of range"):
        load(path)


def test_a_utf8_bom_is_accepted(tmp_path):
    for name, body in (
        ("obj.json", json.dumps({"traceEvents": [X("a", 1, 2)]})),
        ("arr.json", json.dumps([X("a", 1, 2)])),
    ):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + body.encode())
        con, _ = load(path)
        assert con.execute("SELECT name, ts, dur FROM events").fetchall() == [("a", 1000, 2000)]


def _write_raw(path, events_text: str):
    path.write_text('{"schemaVersion": 1, "traceEvents": [' + events_text + "]}")
    return path


def _engines():
    from anemoi_tp.database import connect
    from anemoi_tp.ingest import load_traces
    from anemoi_tp.ingest.perfetto_loader import load_with_perfetto

    return {
        "kineto": lambda p: load_traces(connect(), p),
        "perfetto": lambda p: load_with_perfetto(con := connect(), p) and con,
    }


def test_duplicate_keys_same_verdict_in_both_engines(tmp_path):
    # a "ts" twice: DuckDB refuses it; the Perfetto engine used to check only ph and name,
    # so it took one of the two values and loaded the file
    path = _write_raw(tmp_path / "dup.json", '{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 1, "ts": 2, "dur": 1}')
    for engine, fn in _engines().items():
        with pytest.raises(InputError) as err:
            fn(path)
        assert str(err.value) == f"{path}: an event has the key 'ts' twice (ambiguous; refused)", engine


def test_nan_same_verdict_in_both_engines(tmp_path):
    # NaN is no JSON: Perfetto's parser refuses the file; the default engine used to load it
    # (DuckDB reads NaN) and skip the event, a different verdict. Both refuse it now.
    path = _write_raw(
        tmp_path / "nan.json",
        '{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 1, "dur": 2},'
        '{"ph": "X", "name": "b", "pid": 1, "tid": 1, "ts": NaN, "dur": 2},'
        '{"ph": "X", "name": "c", "pid": 1, "tid": 1, "ts": 3, "dur": -Infinity}',
    )
    for engine, fn in _engines().items():
        with pytest.raises(InputError) as err:
            fn(path)
        assert str(err.value) == f"{path}: not JSON: 2 event(s) have NaN or Infinity as ts or dur", engine


def _small_trace(tmp_path):
    from builders import BATCH, GEMM, TRAIN, TraceBuilder

    b = TraceBuilder()
    b.range(BATCH, 0, 100).range(TRAIN, 1, 99).kernel(GEMM, 1, 2, 100)
    return write_trace(tmp_path / "t.json", b.events)


@pytest.mark.parametrize(
    "value, why",
    [
        ("nan", "must be a finite number, got nan"),
        ("inf", "must be a finite number, got inf"),
        ("-inf", "must be a finite number, got -inf"),
        ("-1", "must not be negative, got -1.0"),
    ],
)
def test_bad_threshold_options_are_bad_input(tmp_path, value, why):
    r = run("report", str(_small_trace(tmp_path)), "--threshold", f"data_loader_stall.pct_of_total={value}")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: --threshold data_loader_stall.pct_of_total {why}"]


@pytest.mark.parametrize(
    "toml, why",
    [
        ("pct_of_total = nan", "must be a finite number, got nan"),
        ("pct_of_total = -inf", "must be a finite number, got -inf"),
        ("pct_of_total = -5", "must not be negative, got -5"),
        ("pct_of_total = true", "is not a number: True"),
    ],
)
def test_bad_thresholds_in_toml_are_bad_input(tmp_path, toml, why):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[thresholds]\ndata_loader_stall = {{ {toml} }}\n")
    r = run("report", str(_small_trace(tmp_path)), "--config", str(cfg))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: {cfg}: threshold data_loader_stall.pct_of_total {why}"]


def test_run_rules_refuses_nan_and_booleans(tmp_path):
    # NaN used to switch the rule off silently (every comparison with NaN is false)
    from anemoi_tp.analysis import run_analyses
    from anemoi_tp.rules import run_rules

    con, _ = load(_small_trace(tmp_path))
    run_analyses(con)
    for bad in (float("nan"), True):
        with pytest.raises(InputError, match="threshold data_loader_stall.pct_of_total"):
            run_rules(con, {"data_loader_stall": {"pct_of_total": bad}})


def test_json_output_is_strict(tmp_path):
    # a JSON column holding NaN (DuckDB keeps it in args) and a DOUBLE NaN / inf from SQL
    path = _write_raw(
        tmp_path / "t.json", '{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts": 1, "dur": 2, "args": {"v": NaN}}'
    )
    r = run(
        "query", str(path), "-f", "json", "SELECT 'nan'::DOUBLE AS n, 'inf'::DOUBLE AS i, 1.5 AS x, args FROM events"
    )
    assert r.returncode == 0, r.stderr
    assert "NaN" not in r.stdout and "Infinity" not in r.stdout
    assert json.loads(r.stdout) == [{"n": None, "i": None, "x": 1.5, "args": {"v": None}}]


def test_strict_dumps():
    from anemoi_tp.jsonout import dumps

    assert dumps({"a": [float("nan"), float("-inf"), 1.0, (2.5,)]}, indent=None) == '{"a": [null, null, 1.0, [2.5]]}'


def test_duplicate_key_in_an_event_with_non_ascii_text_is_one_line(tmp_path):
    # found by the fuzzer: DuckDB's message quotes the event cut inside a UTF-8 character,
    # and Python failed decoding it (UnicodeDecodeError, a traceback)
    path = tmp_path / "t.json"
    path.write_bytes(
        b'[{"ph": "X", "cat": "cpu_op", "name": "000\\u001f\\u001f\\u0800", "pid": 0, '
        b'"tid": 0, "ts": 1, "ts": 0, "dur": 0}]'
    )
    for engine, fn in _engines().items():
        with pytest.raises(InputError) as err:
            fn(path)
        assert "\n" not in str(err.value) and str(err.value).startswith(f"{path}: "), engine
