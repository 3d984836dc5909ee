"""Parts fed to DuckDB through FIFOs (ingest/stream.py): the same rows as files, errors that
name the file, and nothing left behind (threads, pipes, temporary folders)."""
from __future__ import annotations

import errno
import os
import threading

import pytest

from anemoi_tp.errors import InputError
from anemoi_tp.ingest import stream

from conftest import load, write_trace

pytestmark = pytest.mark.skipif(not stream.can_stream(), reason="no FIFOs on this platform")


def events(n: int) -> list[dict]:
    return [{"ph": "X", "cat": "cpu_op", "name": f"op{i}", "pid": 1, "tid": 1, "ts": float(i),
             "dur": 0.5, "args": {"i": i}} for i in range(n)]


def feeders() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("anemoi-tp-feed")]


@pytest.mark.parametrize("mode", ["fifo", "files", "no fifo support"])
def test_every_event_once_whichever_way_the_parts_travel(tmp_path, monkeypatch, mode):
    if mode == "files":
        monkeypatch.setenv("ANEMOI_TP_STREAM", "0")
    if mode == "no fifo support":  # a file system that refuses FIFOs: files are written instead
        def refuse(*a, **k):
            raise OSError(errno.EPERM, "Operation not permitted")
        monkeypatch.setattr(os, "mkfifo", refuse)
    path = write_trace(tmp_path / "t.json", events(3000))
    con, _ = load(path, part_bytes=10_000, tmpdir=str(tmp_path))
    # 3000 events, ts 0..2999 µs: sum = 2999·3000/2 µs = 4498500 µs = 4498500000 ns
    assert con.execute("SELECT count(*), count(DISTINCT name), sum(ts), sum((args->>'i')::INT) "
                       "FROM events").fetchone() == (3000, 3000, 4_498_500_000, 4_498_500)
    assert feeders() == []
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no temporary folder left


def test_malformed_event_in_a_middle_part_names_the_file_and_stops_every_feeder(tmp_path):
    good = ",\n".join(f'{{"ph": "X", "name": "op{i}", "pid": 1, "tid": 1, "ts": {i}, "dur": 1}}'
                      for i in range(2000))
    bad = '{"ph": "X", "name": "broken" "ts": 1, "dur": 1}'  # a missing comma
    path = tmp_path / "t.json"
    path.write_text('{"traceEvents": [' + good + ",\n" + bad + ",\n" + good + "]}")
    with pytest.raises(InputError, match="malformed JSON") as err:
        load(path, part_bytes=5_000, tmpdir=str(tmp_path))
    assert err.value.path == str(path)
    assert feeders() == []
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_a_directory_of_gzip_ranks_streams_from_the_decompressed_copies(tmp_path):
    for r in range(3):
        write_trace(tmp_path / "run" / f"r{r}.json.gz", events(500), compress=True,
                    distributedInfo={"rank": r, "world_size": 3})
    con, _ = load(tmp_path / "run", part_bytes=4_000)
    assert con.execute("SELECT rank, count(*) FROM events GROUP BY rank ORDER BY rank").fetchall() == [
        (0, 500), (1, 500), (2, 500)]
