"""Module ranges from with_stack `nn.Module: <Class>_<n>` python_function events.

Hand-built trace (one rank, pid 1; µs). Names below drop the "nn.Module: " prefix.
  tid 1, forward, inside batch [0,200) and training_step [5,100):
    AnemoiModelEncProcDec_0 [10,100)
      GraphTransformerForwardMapper_0 [11,30)
        GraphTransformerMapperBlock_1 [12,25)
          Linear_3 [12,14)                 same start as its parent, ends first: its child
          python "block.py(88): forward" [14,24) (not a module: no part of any path)
            Linear_4 [15,16)
            GraphTransformerProcessorBlock_9 [16,17)   a processor-looking class inside the
                                                       encoder: the outermost match decides
      GraphTransformerProcessor_0 [31,60)
        GraphTransformerProcessorBlock_0 [31,45)   same start as its parent, ends first
        GraphTransformerProcessorBlock_1 [45,60)   same end as its parent, starts later
          Linear_7 [50,52)
      GraphTransformerBackwardMapper_0 [61,90)
        GraphTransformerMapperBlock_0 [62,80)
      Sequential_0 [91,95) and Linear_9 [91,95): equal start and end: the one with the larger
                                                 range_id (later in the file) is the child
  tid 2: Linear_3 [20,22): a root on its thread; its instance runs nested on tid 1 → that path.
  tid 1, backward [110,160) (checkpoint recompute, outside any module range):
    GraphTransformerProcessorBlock_1 [120,130) ⊃ Linear_7 [121,123) → re-rooted at the
      forward path of ProcessorBlock_1
    Dropout_0 [128,135): ill-nested with the block (starts inside, ends after): a root; its
      instance never runs nested → path "Dropout_0", no group
    GraphTransformerMapperBlock_0 [140,150) ⊃ LayerNorm_2 [141,142) → the decoder's block path
"""
from __future__ import annotations

import collections
import gzip
import json
import math
import re

import pytest

from anemoi_tp.report import build_report

from builders import BACKWARD, BATCH, TRAIN, TraceBuilder
from conftest import load, shared_trace, write_trace

US = 1e-6
M = "AnemoiModelEncProcDec_0"
E = f"{M}.GraphTransformerForwardMapper_0"
EB = f"{E}.GraphTransformerMapperBlock_1"
P = f"{M}.GraphTransformerProcessor_0"
D = f"{M}.GraphTransformerBackwardMapper_0"


def nn(b: TraceBuilder, inst: str, start: float, end: float, tid: int = 1) -> TraceBuilder:
    return b.range(f"nn.Module: {inst}", start, end, tid=tid, cat="python_function")


def hand_trace() -> list[dict]:
    b = TraceBuilder()
    b.range(BATCH, 0, 200).range(TRAIN, 5, 100).range(BACKWARD, 110, 160)
    nn(b, M, 10, 100)
    nn(b, "GraphTransformerForwardMapper_0", 11, 30)
    nn(b, "GraphTransformerMapperBlock_1", 12, 25)
    nn(b, "Linear_3", 12, 14)
    b.range("anemoi/models/layers/block.py(88): forward", 14, 24, cat="python_function")
    nn(b, "Linear_4", 15, 16)
    nn(b, "GraphTransformerProcessorBlock_9", 16, 17)
    nn(b, "Linear_3", 20, 22, tid=2)
    nn(b, "GraphTransformerProcessor_0", 31, 60)
    nn(b, "GraphTransformerProcessorBlock_0", 31, 45)
    nn(b, "GraphTransformerProcessorBlock_1", 45, 60)
    nn(b, "Linear_7", 50, 52)
    nn(b, "GraphTransformerBackwardMapper_0", 61, 90)
    nn(b, "GraphTransformerMapperBlock_0", 62, 80)
    nn(b, "Sequential_0", 91, 95)
    nn(b, "Linear_9", 91, 95)
    nn(b, "GraphTransformerProcessorBlock_1", 120, 130)
    nn(b, "Linear_7", 121, 123)
    nn(b, "Dropout_0", 128, 135)
    nn(b, "GraphTransformerMapperBlock_0", 140, 150)
    nn(b, "LayerNorm_2", 141, 142)
    return b.events


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    path = write_trace(tmp_path_factory.mktemp("m") / "t.json", hand_trace(), baseTimeNanoseconds=0,
                       distributedInfo={"rank": 0, "world_size": 1})
    con, _ = load(path)
    return build_report(con), con


def module_rows(con) -> list[tuple]:
    return con.execute("""
        SELECT h.ts // 1000, h.end_ts // 1000, h.tid, h.label, h.module_group, h.range_id
        FROM host_ranges h WHERE h.kind = 'module' ORDER BY h.ts, h.end_ts DESC, h.tid, h.range_id
    """).fetchall()


def test_paths_and_groups_from_nesting(hand):
    _, con = hand
    rows = module_rows(con)
    got = [(s, e, tid, path, grp) for s, e, tid, path, grp, _ in rows]
    seq_lin = [r for r in rows if r[0] == 91]
    assert len(seq_lin) == 2
    # equal start and end: the larger range_id is the child of the other
    outer, inner = sorted(seq_lin, key=lambda r: r[5])
    outer_inst, inner_inst = outer[3].split(".")[-1], inner[3].split(".")[-1]
    assert {outer_inst, inner_inst} == {"Sequential_0", "Linear_9"}
    assert outer[3] == f"{M}.{outer_inst}" and inner[3] == f"{M}.{outer_inst}.{inner_inst}"
    expected = [
        (10, 100, "1", M, None),
        (11, 30, "1", E, "encoder"),
        (12, 25, "1", EB, "encoder"),
        (12, 14, "1", f"{EB}.Linear_3", "encoder"),
        (15, 16, "1", f"{EB}.Linear_4", "encoder"),
        (16, 17, "1", f"{EB}.GraphTransformerProcessorBlock_9", "encoder"),
        (20, 22, "2", f"{EB}.Linear_3", "encoder"),
        (31, 60, "1", P, "processor"),
        (31, 45, "1", f"{P}.GraphTransformerProcessorBlock_0", "processor"),
        (45, 60, "1", f"{P}.GraphTransformerProcessorBlock_1", "processor"),
        (50, 52, "1", f"{P}.GraphTransformerProcessorBlock_1.Linear_7", "processor"),
        (61, 90, "1", D, "decoder"),
        (62, 80, "1", f"{D}.GraphTransformerMapperBlock_0", "decoder"),
        (91, 95, "1", outer[3], None),
        (91, 95, "1", inner[3], None),
        (120, 130, "1", f"{P}.GraphTransformerProcessorBlock_1", "processor"),
        (121, 123, "1", f"{P}.GraphTransformerProcessorBlock_1.Linear_7", "processor"),
        (128, 135, "1", "Dropout_0", None),
        (140, 150, "1", f"{D}.GraphTransformerMapperBlock_0", "decoder"),
        (141, 142, "1", f"{D}.GraphTransformerMapperBlock_0.LayerNorm_2", "decoder"),
    ]
    assert got == expected


def test_module_ranges_table_depth_and_parent(hand):
    _, con = hand
    rows = dict(con.execute("""
        SELECT h.ts // 1000 || '/' || h.tid, (m.depth, p.instance)
        FROM module_ranges m JOIN host_ranges h ON h.range_id = m.range_id AND h.kind = 'module'
        LEFT JOIN module_ranges p ON p.range_id = m.parent_id
        WHERE m.instance NOT IN ('Sequential_0', 'Linear_9')
    """).fetchall())
    assert rows["10/1"] == (1, None)
    assert rows["15/1"] == (4, "GraphTransformerMapperBlock_1")  # the python function is skipped
    assert rows["20/2"] == (1, None)                              # other thread: a root
    assert rows["121/1"] == (2, "GraphTransformerProcessorBlock_1")
    assert rows["128/1"] == (1, None)                             # ill-nested: not a child


def test_cpu_only_module_split_comes_from_host_time(hand):
    rep, _ = hand
    r = rep["ranks"][0]
    assert r["total_s"] == pytest.approx(200 * US)
    mods = {m["name"]: m["duration_s"] for m in r["modules"]}
    # no GPU: each instant goes to the latest-started module range open on the host:
    # encoder [11,30); processor [31,60) + [120,128) (Dropout_0 starts at 128, no group);
    # decoder [61,90) + [140,150); the rest elsewhere
    expected = {"encoder": 19, "processor": 29 + 8, "decoder": 29 + 10, "elsewhere": 200 - 19 - 37 - 39}
    for name, us in expected.items():
        assert mods[name] == pytest.approx(us * US, abs=1e-12), name


def test_pl_module_paths_keep_the_pattern_path_and_prefix_groups(tmp_path):
    b = TraceBuilder()
    b.range(BATCH, 0, 100)
    b.range("[pl][module]torch.nn.modules.linear.Linear: model.model.decoder.0.lin", 1, 5)
    b.range("Linear model.model.processor.proc.0.lin_edge bwd", 10, 20)
    b.range("[pl][module]x.Y: model.other", 30, 40)
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    build_report(con)
    rows = con.execute("SELECT label, module_group, direction FROM host_ranges WHERE kind = 'module' "
                       "ORDER BY ts").fetchall()
    assert rows == [("model.model.decoder.0.lin", "decoder", None),
                    ("model.model.processor.proc.0.lin_edge", "processor", "bwd"),
                    ("model.other", None, None)]


# --- the real Anemoi trace -------------------------------------------------------------------

ANEMOI = "anemoi_cpu_profile_stock/vm_13216.None.1795919286391695532.pt.trace.json.gz"
GROUPS = [("encoder", re.compile(r"ForwardMapper(_\d+)?$")),
          ("processor", re.compile(r"(GNN|Transformer)Processor(Block|Chunk)?(_\d+)?$")),
          ("decoder", re.compile(r"BackwardMapper(_\d+)?$"))]


def _ns(us: float) -> int:
    # the loader's conversion: integer µs and the fraction's ns apart
    return math.floor(us) * 1000 + round((us - math.floor(us)) * 1000)


def reference_group_counts(path) -> collections.Counter:
    """Independent count: parent = nearest earlier enclosing event in (thread, ts, -end, file
    position) order; roots re-rooted at their instance's first nested path; group of the
    outermost path component matching a class pattern."""
    events = json.load(gzip.open(path))["traceEvents"]
    mods = []
    for pos, e in enumerate(events):
        if e.get("ph") == "X" and e.get("cat") == "python_function" and e["name"].startswith("nn.Module: "):
            ts = _ns(e["ts"])
            mods.append(dict(pos=pos, proc=e["pid"], th=(e["pid"], e["tid"]), ts=ts,
                             end=ts + _ns(e["dur"]), inst=e["name"][len("nn.Module: "):]))
    mods.sort(key=lambda m: (m["th"], m["ts"], -m["end"], m["pos"]))
    for k, m in enumerate(mods):
        parent = next((a for a in reversed(mods[:k])
                       if a["th"] == m["th"] and a["ts"] <= m["ts"] and a["end"] >= m["end"]), None)
        m["root"] = parent["root"] if parent else m
        m["path"] = (parent["path"] + "." if parent else "") + m["inst"]
    home = {}
    for m in mods:
        if m["root"] is not m:
            home.setdefault((m["proc"], m["inst"]), m["path"])
    counts = collections.Counter()
    for m in mods:
        root = m["root"]
        path = home.get((root["proc"], root["inst"]), root["inst"]) + m["path"][len(root["inst"]):]
        group = next((g for part in path.split(".") for g, rx in GROUPS if rx.search(part)), None)
        counts[group] += 1
    return counts


def test_anemoi_stock_trace_module_ranges_per_group():
    path = shared_trace(ANEMOI)
    expected = reference_group_counts(path)
    con, _ = load(path)
    rep = build_report(con)
    got = collections.Counter(dict(con.execute(
        "SELECT module_group, count(*) FROM host_ranges WHERE kind = 'module' GROUP BY 1").fetchall()))
    assert got == expected
    assert sum(expected.values()) == 885 and all(expected[g] > 0 for g in ("encoder", "processor", "decoder"))
    mods = {m["name"]: m["duration_s"] for m in rep["ranks"][0]["modules"]}
    assert all(mods[g] > 0 for g in ("encoder", "processor", "decoder"))
    assert sum(mods.values()) == pytest.approx(rep["ranks"][0]["total_s"])


# --- the memory snapshot's module mapping -------------------------------------------------------

def test_snapshot_sites_map_anemoi_mapper_frames(tmp_path):
    import pickle

    from anemoi_tp.database import connect
    from anemoi_tp.ingest.snapshot import load_snapshot
    from anemoi_tp.report.memory import memory_section

    mapper = "/site-packages/anemoi/models/layers/mapper.py"
    sites = [  # (innermost user frame, bytes); expected module by hand
        ((mapper, 310, "GraphTransformerForwardMapper.forward"), 6 << 20),      # encoder
        ((mapper, 420, "GraphTransformerBackwardMapper.forward"), 5 << 20),     # decoder
        ((mapper, 250, "run_processor_chunk_edge_sharding"), 4 << 20),          # None: both mappers
        (("/site-packages/anemoi/models/layers/processor.py", 90, "forward"), 3 << 20),  # processor
        (("/site-packages/anemoi/models/layers/block.py", 600, "GraphTransformerProcessorBlock.forward"),
         2 << 20),                                                              # processor
        (("/work/model/encoder.py", 12, "forward"), 1 << 20),                   # encoder (file word)
    ]
    blocks = [{"size": size, "requested_size": size, "state": "active_allocated",
               "frames": [{"filename": "/site-packages/torch/nn/modules/linear.py", "line": 125, "name": "forward"},
                          {"filename": fn, "line": line, "name": name}]}
              for (fn, line, name), size in sites]
    snap = {"segments": [{"device": 0, "address": 1 << 30, "total_size": sum(s for _, s in sites),
                          "stream": 0, "segment_type": "large", "segment_pool_id": (0, 0), "blocks": blocks}],
            "device_traces": [[]]}
    path = tmp_path / "memory_snapshot.pickle"
    path.write_bytes(pickle.dumps(snap))
    con = connect()
    load_snapshot(con, path)
    got = [(s["module"], s["bytes"]) for s in memory_section(con)["snapshots"][0]["sites"]]
    assert got == [("encoder", 6 << 20), ("decoder", 5 << 20), (None, 4 << 20), ("processor", 3 << 20),
                   ("processor", 2 << 20), ("encoder", 1 << 20)]


def test_module_instance_and_group_patterns_from_a_config_file(tmp_path):
    from anemoi_tp.config import load_config

    b = TraceBuilder()
    b.range(BATCH, 0, 100)
    b.range("mod: Net_0", 10, 50, cat="python_function").range("mod: Head_0", 20, 30, cat="python_function")
    b.range("nn.Module: Linear_0", 60, 70, cat="python_function")  # the default pattern is replaced
    cfg = tmp_path / "c.toml"
    cfg.write_text("[patterns]\nmodule_instance = ['^mod: (\\S+)$']\n"
                   "[patterns.module_group]\ndecoder = ['Head_\\d+$']\n")
    patterns, _ = load_config(cfg)
    con, _ = load(write_trace(tmp_path / "t.json", b.events))
    build_report(con, patterns)
    assert con.execute("SELECT label, module_group FROM host_ranges WHERE kind = 'module' ORDER BY ts").fetchall() == [
        ("Net_0", None), ("Net_0.Head_0", "decoder")]
