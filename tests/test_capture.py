"""anemoi_tp.capture: real CPU traces recorded with torch.profiler, checked in the raw JSON and
through anemoi-tp (load_traces + build_report).

The model is Anemoi-shaped: encoder (one Block), processor with proc.0 / proc.1 (Blocks, run
under non-reentrant activation checkpointing), decoder (one Block); a Block holds two Linear
layers, so the backward of one Block call runs exactly two `AddmmBackward0` autograd nodes.
Expected values come from the raw JSON (ranges by name, computed with plain Python here), and
from the model's structure (counts of steps, Linear layers).
"""
from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from anemoi_tp.report import build_report

from conftest import load


def test_import_needs_neither_torch_nor_the_analysis():
    code = ("import sys; sys.modules['torch'] = None; import anemoi_tp.capture as c; "
            "assert 'module_ranges' in c.__all__; "
            "bad = [m for m in ('torch', 'duckdb', 'jinja2', 'pytorch_lightning') "
            "if sys.modules.get(m) is not None]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


torch = pytest.importorskip("torch", reason="torch is not installed: it is the optional extra "
                                            "anemoi-tp[capture], the capture tests need it")
from torch import nn  # noqa: E402
from torch.profiler import ProfilerActivity, profile, schedule  # noqa: E402

from anemoi_tp.capture import module_ranges  # noqa: E402

H = 16
STEPS, WARMUP, ACTIVE = 4, 1, 3
RANGE = re.compile(r"^(\w+) (\S+) (fwd|bwd)$")


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(H, H), nn.Linear(H, H)

    def forward(self, x):
        return x + self.b(torch.relu(self.a(x)))


class Processor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proc = nn.ModuleList([Block(), Block()])

    def forward(self, x):
        for blk in self.proc:
            x = torch.utils.checkpoint.checkpoint(blk, x, use_reentrant=False)
        return x


class EncProcDec(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.processor, self.decoder = Block(), Processor(), Block()

    def forward(self, x):
        return self.decoder(self.processor(self.encoder(x)))


def _doc(path: Path) -> dict:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return json.load(f)


def _ns(doc: dict, us: float) -> int:
    return doc.get("baseTimeNanoseconds", 0) + round(us * 1000)


def _spans(doc: dict, pred) -> list[tuple[int, int, int, str]]:
    return sorted((_ns(doc, e["ts"]), _ns(doc, e["ts"]) + round(e["dur"] * 1000), e["tid"], e["name"])
                  for e in doc["traceEvents"] if e.get("ph") == "X" and pred(e["name"]))


def _check_nesting(ranges):
    """Per thread, any two ranges are disjoint or one holds the other."""
    by_tid: dict = {}
    for s, e, tid, name in ranges:
        by_tid.setdefault(tid, []).append((s, -e, name))
    for items in by_tid.values():
        stack: list = []
        for s, neg_e, name in sorted(items):
            e = -neg_e
            while stack and stack[-1][1] <= s:
                stack.pop()
            assert not stack or e <= stack[-1][1], f"{name} [{s},{e}) overlaps {stack[-1]}"
            stack.append((s, e, name))


def _union(intervals) -> int:
    total, cur_s, cur_e = 0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            total += (cur_e - cur_s) if cur_e is not None else 0
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return total + ((cur_e - cur_s) if cur_e is not None else 0)


def _group(path: str, prefix: str) -> str | None:
    for g in ("encoder", "processor", "decoder"):
        if path == prefix + g or path.startswith(prefix + g + "."):
            return g
    return None


def _check_trace(path: Path, prefix: str, batches) -> dict:
    """The checks shared by the plain and the Lightning trace; ``batches`` are the complete
    batches' [start, end) from the raw JSON (the analysis window's definition, DESIGN.md)."""
    doc = _doc(path)
    ours = _spans(doc, lambda n: RANGE.match(n) is not None)
    names = {n for *_, n in ours}
    parts = ["encoder", "processor", "processor.proc.0", "processor.proc.1", "decoder"]
    for part in parts:
        cls = {"processor": "Processor"}.get(part, "Block")
        for d in ("fwd", "bwd"):
            assert f"{cls} {prefix}{part} {d}" in names
    _check_nesting(ours)

    # each Block's backward range holds exactly its two Linear layers' AddmmBackward0 nodes
    # (the encoder's input needs no grad; its weights' grads are still computed inside)
    addmm = [s for s, *_ in _spans(doc, lambda n: n == "autograd::engine::evaluate_function: AddmmBackward0")]
    for part in ["encoder", "processor.proc.0", "processor.proc.1", "decoder"]:
        bwd = [(s, e) for s, e, _, n in ours if n == f"Block {prefix}{part} bwd"]
        assert len(bwd) == ACTIVE
        for s, e in bwd:
            assert sum(s <= a < e for a in addmm) == 2, part
    proc_bwd = [(s, e) for s, e, _, n in ours if n == f"Processor {prefix}processor bwd"]
    assert [sum(s <= a < e for a in addmm) for s, e in proc_bwd] == [4] * ACTIVE
    # checkpoint recompute: each processor block runs forward twice per step, the second
    # time inside its own backward range
    for part in ["processor.proc.0", "processor.proc.1"]:
        fwd = [(s, e) for s, e, _, n in ours if n == f"Block {prefix}{part} fwd"]
        bwd = [(s, e) for s, e, _, n in ours if n == f"Block {prefix}{part} bwd"]
        assert len(fwd) == 2 * ACTIVE
        assert sum(any(bs <= s and e <= be for bs, be in bwd) for s, e in fwd) == ACTIVE

    # through anemoi-tp: every range is a module range with its group and direction
    con, _ = load(path)
    report = build_report(con)
    got = con.execute("""SELECT label, direction, module_group, count(*) FROM host_ranges
                         WHERE kind = 'module' AND name NOT LIKE '[pl]%' GROUP BY ALL""").fetchall()
    expected: dict = {}
    for *_, n in ours:
        cls, p, d = RANGE.match(n).groups()
        key = (p, d, _group(p, prefix))
        expected[key] = expected.get(key, 0) + 1
    assert {(a, b, c): n for a, b, c, n in got} == expected

    # module breakdown on CPU (GPU idle throughout): each group's part of the window is the
    # time some module range of that group is open on the host (the groups never overlap)
    w0, w1 = batches[0][0], batches[-1][1]
    module_spans = [(s, e, p) for s, e, _, p in _module_paths(doc)]
    share = {}
    for g in ("encoder", "processor", "decoder"):
        share[g] = _union([(max(s, w0), min(e, w1)) for s, e, p in module_spans
                           if _group(p, prefix) == g and s < w1 and e > w0])
        assert share[g] > 0
    r = report["ranks"][0]
    modules = {m["name"]: m["duration_s"] for m in r["modules"]}
    for g, ns in share.items():
        assert modules[g] == pytest.approx(ns / 1e9, abs=2e-9)
    assert sum(modules.values()) == pytest.approx((w1 - w0) / 1e9, abs=5e-9)
    # (the per-direction GPU split, module_gpu, needs GPU work: missing on CPU, not 0)
    assert r["module_gpu"] is None
    return doc


def _module_paths(doc):
    """(start, end, tid, path) of module ranges: ours and Lightning's [pl][module] ones."""
    out = []
    for s, e, tid, n in _spans(doc, lambda n: True):
        m = RANGE.match(n) or re.match(r"^\[pl\]\[module\][^:]*: (\S+)$", n)
        if m:
            out.append((s, e, tid, m.group(2) if m.re is RANGE else m.group(1)))
    return out


def test_plain_model_with_checkpointing(tmp_path):
    torch.manual_seed(0)
    model = EncProcDec()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    out = tmp_path / "plain.pt.trace.json"
    with module_ranges(model) as paths, profile(
            activities=[ProfilerActivity.CPU],
            schedule=schedule(wait=0, warmup=WARMUP, active=ACTIVE, repeat=1),
            on_trace_ready=lambda p: p.export_chrome_trace(str(out))) as prof:
        for _ in range(STEPS):
            opt.zero_grad()
            model(torch.randn(8, H)).square().mean().backward()
            opt.step()
            prof.step()
    assert paths == ["encoder", "processor", "processor.proc.0", "processor.proc.1", "decoder"]
    # hooks are gone
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    doc = _doc(out)
    steps = _spans(doc, lambda n: re.match(r"^ProfilerStep#\d+$", n) is not None)
    assert len(steps) == ACTIVE
    _check_trace(out, "", [(s, e) for s, e, *_ in steps])


def test_exception_closes_ranges_and_compiled_submodules(tmp_path):
    """A forward that raises still closes its ranges (and the ones around it); a submodule
    compiled in place (module.compile) and one wrapped by torch.compile keep their ranges."""
    torch.manual_seed(0)
    model = EncProcDec()
    model.encoder.compile(backend="aot_eager")
    model.processor.proc[1] = torch.compile(model.processor.proc[1], backend="aot_eager")

    def boom(module, args):
        raise RuntimeError("boom")

    out = tmp_path / "t.json"
    with module_ranges(model) as paths, profile(activities=[ProfilerActivity.CPU]) as prof:
        model(torch.randn(8, H)).sum().backward()
        h = model.decoder.b.register_forward_pre_hook(boom)
        with pytest.raises(RuntimeError, match="boom"):
            model(torch.randn(8, H))
        h.remove()
    prof.export_chrome_trace(str(out))
    assert "processor.proc.1" in paths
    names = [n for *_, n in _spans(_doc(out), lambda n: RANGE.match(n) is not None)]
    # two calls, plus the checkpoint recompute of proc.1 in the one backward
    for part, calls in (("encoder", 2), ("processor.proc.1", 3)):
        assert names.count(f"Block {part} fwd") == calls
        assert names.count(f"Block {part} bwd") == 1
    assert names.count("Block decoder fwd") == 2  # the raising call's range closed too
    _check_nesting(_spans(_doc(out), lambda n: RANGE.match(n) is not None))


def test_selection():
    from anemoi_tp.capture import select_modules
    model = EncProcDec()
    assert [p for p, _ in select_modules(model, depth=1)] == ["encoder", "processor", "decoder"]
    assert [p for p, _ in select_modules(model, r"\.a$")] == [
        "encoder.a", "processor.proc.0.a", "processor.proc.1.a", "decoder.a"]
    # no Anemoi parts: the top model's children, containers replaced by their items
    other = nn.Sequential(nn.Linear(2, 2), nn.ModuleList([nn.ReLU(), nn.Linear(2, 2)]))
    assert [p for p, _ in select_modules(other)] == ["0", "1.0", "1.1"]


def test_lightning_callback(tmp_path):
    pl = pytest.importorskip("pytorch_lightning",
                             reason="pytorch-lightning is not installed (optional: ModuleRanges)")
    from pytorch_lightning.profilers import PyTorchProfiler
    from torch.utils.data import DataLoader, TensorDataset

    from anemoi_tp.capture import ModuleRanges

    class Interface(nn.Module):  # AnemoiModelInterface: .model is the model
        def __init__(self) -> None:
            super().__init__()
            self.model = EncProcDec()

        def forward(self, x):
            return self.model(x)

    class Forecaster(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = Interface()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.mse_loss(self.model(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    torch.manual_seed(0)
    data = TensorDataset(torch.randn(8 * (STEPS + 1), H), torch.randn(8 * (STEPS + 1), H))
    # record_module_names=False: Lightning's own "[pl][module]" ranges break under
    # non-reentrant checkpointing (its forward hook is skipped when the recompute stops early,
    # so ranges stay open across others), and stock `anemoi-training profile` has none
    profiler = PyTorchProfiler(dirpath=str(tmp_path), filename="lit", export_to_chrome=True,
                               record_module_names=False,
                               schedule=torch.profiler.schedule(wait=0, warmup=WARMUP,
                                                                active=ACTIVE, repeat=1))
    callback = ModuleRanges()
    trainer = pl.Trainer(profiler=profiler, max_steps=STEPS + 1, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[callback],
                         default_root_dir=str(tmp_path))
    module = Forecaster()
    trainer.fit(module, train_dataloaders=DataLoader(data, batch_size=8))
    assert callback.paths[0] == "model.model.encoder"
    assert callback.snapshot is None  # CPU: skipped, with a message
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in module.modules())
    (path,) = tmp_path.glob("*.pt.trace.json")
    doc = _doc(path)
    assert doc["distributedInfo"] == {"backend": None, "rank": 0, "world_size": 1}
    # complete batches: they end before the recording does (the last one is cut)
    rwe = next(_ns(doc, e["ts"]) for e in doc["traceEvents"] if e.get("name") == "Record Window End")
    batches = [b for b in _spans(doc, lambda n: n == "[pl][profile]run_training_batch") if b[1] < rwe]
    fetch = _spans(doc, lambda n: n == "[pl][profile][_TrainingEpochLoop].train_dataloader_next")
    # the window starts with the first batch's data fetch (DESIGN.md)
    first = min([batches[0][0]] + [s for s, e, *_ in fetch if e <= batches[0][0]])
    _check_trace(path, "model.model.", [(first, batches[0][1])] + [b[:2] for b in batches[1:]])


def test_range_kinds(tmp_path):
    """Default: torch's fast record_function, cpu_op events; user_annotation=True: the
    user_annotation events of record_function. The same ranges either way."""
    torch.manual_seed(0)
    model = EncProcDec()
    got = {}
    for kind in (False, True):
        out = tmp_path / f"{kind}.json"
        with module_ranges(model, user_annotation=kind), \
                profile(activities=[ProfilerActivity.CPU]) as prof:
            model(torch.randn(8, H)).sum().backward()
        prof.export_chrome_trace(str(out))
        events = [e for e in _doc(out)["traceEvents"]
                  if e.get("ph") == "X" and RANGE.match(e["name"])]
        got[kind] = ({e["cat"] for e in events}, sorted(e["name"] for e in events))
    assert got[False][0] == {"cpu_op"}
    assert got[True][0] == {"user_annotation"}
    # 5 modules × (fwd + bwd), plus the recompute fwd of the 2 checkpointed blocks
    assert len(got[False][1]) == 12
    assert got[False][1] == got[True][1]


def test_forward_ranges_only(tmp_path):
    """backward=False: "fwd" ranges only, no autograd hook. Each backward AddmmBackward0 node
    still leads (the profiler's fwdbwd flow) to its forward op inside its Block's "fwd" range,
    which is what anemoi-tp's attribution by forward op needs: 2 per Block (the checkpointed
    blocks' through their recompute)."""
    torch.manual_seed(0)
    model = EncProcDec()
    out = tmp_path / "fwd_only.json"
    with module_ranges(model, backward=False), \
            profile(activities=[ProfilerActivity.CPU]) as prof:
        model(torch.randn(8, H)).sum().backward()
    prof.export_chrome_trace(str(out))
    doc = _doc(out)
    ours = _spans(doc, lambda n: RANGE.match(n) is not None)
    # 5 modules' fwd, plus the recompute fwd of the 2 checkpointed blocks; no bwd
    assert sorted(n for *_, n in ours) == sorted(
        ["Block encoder fwd", "Processor processor fwd", "Block processor.proc.0 fwd",
         "Block processor.proc.1 fwd", "Block decoder fwd", "Block processor.proc.0 fwd",
         "Block processor.proc.1 fwd"])
    flows = {}
    for e in doc["traceEvents"]:
        if e.get("cat") == "fwdbwd":
            flows.setdefault(e["id"], {})[e["ph"]] = _ns(doc, e["ts"])
    fwd_at = {f["f"]: f["s"] for f in flows.values() if "s" in f and "f" in f}
    owner: dict = {}
    for s, *_ in _spans(doc, lambda n: n == "AddmmBackward0"):
        start = fwd_at[s]  # the forward op's start
        inner = min((e - b, n) for b, e, _, n in ours if b <= start < e)
        part = RANGE.match(inner[1]).group(2)
        owner[part] = owner.get(part, 0) + 1
    assert owner == {"encoder": 2, "processor.proc.0": 2, "processor.proc.1": 2, "decoder": 2}
