"""The demo trace set is shaped like real traces: checked on its raw events with plain Python,
and by loading it into Perfetto's trace processor."""
from __future__ import annotations

import collections
import functools
import json
import warnings
from pathlib import Path

import pytest

from anemoi_tp.database import connect
from anemoi_tp.demo import DemoConfig, generate_trace_set
from anemoi_tp.demo.generate import TRANSFER_US
from anemoi_tp.ingest.perfetto_loader import load_with_perfetto

BATCHES = 3
CFG = DemoConfig(batches=BATCHES)
MODULES = 1 + CFG.processor_blocks + 1  # encoder, blocks, decoder: one all-reduce each


@functools.cache
def demo_dir(tmp: str) -> Path:
    generate_trace_set(tmp, CFG)
    return Path(tmp)


@pytest.fixture(scope="module")
def traces(tmp_path_factory) -> dict[int, list[dict]]:
    """rank -> its X events, times as integer ns (as the loaders read them)."""
    out = demo_dir(str(tmp_path_factory.mktemp("demo")))
    docs = [json.loads(p.read_text()) for p in sorted(out.glob("*.pt.trace.json"))]
    res = {}
    for d in docs:
        xs = [dict(e, ts=round(e["ts"] * 1000), end=round(e["ts"] * 1000) + round(e["dur"] * 1000))
              for e in d["traceEvents"] if e.get("ph") == "X"]
        res[d["distributedInfo"]["rank"]] = xs
    return res


def tracks(xs: list[dict]) -> dict[tuple, list[dict]]:
    by = collections.defaultdict(list)
    for e in xs:
        by[(e["pid"], e["tid"])].append(e)
    return by


def test_host_ranges_nest_and_gpu_streams_run_one_at_a_time(traces):
    ties = 0
    for xs in traces.values():
        for (pid, _tid), evs in tracks(xs).items():
            gpu = any(e["cat"] in ("kernel", "gpu_memcpy") for e in evs)
            stack: list[dict] = []
            # at equal start the longer one is the parent
            for e in sorted(evs, key=lambda e: (e["ts"], -e["end"])):
                while stack and stack[-1]["end"] <= e["ts"]:
                    stack.pop()
                if stack:
                    assert not gpu, f"stream {pid}/{_tid}: {e['name']} starts before {stack[-1]['name']} ends"
                    assert e["end"] <= stack[-1]["end"], f"{e['name']} crosses {stack[-1]['name']}"
                    ties += e["ts"] == stack[-1]["ts"]
                stack.append(e)
    # nested ranges that start in the same ns: optimizer_step / Optimizer.step, training_step /
    # encoder / its first Linear, decoder / its first Linear, per complete batch at least
    assert ties >= len(traces) * BATCHES * 4


def test_perfetto_drops_no_slice(tmp_path_factory):
    out = demo_dir(str(tmp_path_factory.mktemp("demo_pf")))
    con = connect()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_with_perfetto(con, out)
    assert con.execute("SELECT count(*) FROM ingest_issues").fetchone()[0] == 0
    raw = sum(sum(1 for e in json.loads(p.read_text())["traceEvents"] if e.get("ph") == "X")
              for p in out.glob("*.pt.trace.json"))
    assert con.execute("SELECT count(*) FROM events WHERE ph = 'X'").fetchone()[0] == raw


def collectives(traces) -> list[dict[int, dict]]:
    """The n-th NCCL kernel of each (name, stream) on every rank: one collective, rank -> kernel."""
    per: dict = collections.defaultdict(lambda: collections.defaultdict(list))
    for rank, xs in traces.items():
        for e in sorted(xs, key=lambda e: e["ts"]):
            if e["cat"] == "kernel" and e["name"].startswith("ncclDevKernel"):
                per[(e["name"], e["tid"])][rank].append(e)
    out = []
    for ranks in per.values():
        assert len(ranks) == CFG.ranks
        # the cut batch's last kernels may start after the end of recording on some ranks
        out += [{r: ranks[r][i] for r in ranks} for i in range(min(map(len, ranks.values())))]
    return out


def test_collectives_end_after_the_last_arrival(traces):
    colls = collectives(traces)
    # per complete batch: one all-gather per processor block and one all-reduce per module
    assert len(colls) >= BATCHES * (CFG.processor_blocks + MODULES)
    for c in colls:
        last = max(c.values(), key=lambda e: e["ts"])
        assert min(e["end"] for e in c.values()) >= last["ts"]
        lo, hi = TRANSFER_US["allgather" if "AllGather" in last["name"] else "allreduce"]
        # the last to arrive only transfers; the others waited for it on top
        assert lo * 1000 <= last["end"] - last["ts"] <= hi * 1000
        assert all(e["end"] - e["ts"] >= last["end"] - last["ts"] for e in c.values())


def test_the_planted_straggler_arrives_last(traces):
    last = collections.Counter(max(c, key=lambda r: c[r]["ts"]) for c in collectives(traces))
    # the slower GPU is last everywhere except at each batch's first all-gather, where the rank
    # with the slow data loading arrives last (it starts computing the batch ~2 ms late)
    assert last.most_common(1)[0][0] == CFG.straggler_rank
    assert set(last) == {CFG.straggler_rank, CFG.slow_rank}
