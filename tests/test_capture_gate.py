"""module_ranges opens ranges only while a profiler is enabled, but hooks every backward: a
profiler may start between a forward and its backward (Lightning steps its schedule after
training_step). Model: two Linear layers in sequence, so one step's backward runs exactly one
`AddmmBackward0` node per layer (2-D input); the weight's `TBackward0` belongs to nobody."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: the optional extra "
                                            "anemoi-tp[capture]")
from torch import nn  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from anemoi_tp.capture import module_ranges  # noqa: E402

# the node itself (its pre-hooks, which open ranges, run before it inside the engine's
# "evaluate_function: AddmmBackward0" range)
ADDMM = "AddmmBackward0"


def _spans(path):
    ev = [e for e in json.load(open(path))["traceEvents"] if e.get("ph") == "X"]
    return sorted((e["ts"], e["ts"] + e["dur"], e["name"]) for e in ev)


@pytest.mark.parametrize("always", [False, True])
def test_profiler_started_between_forward_and_backward(tmp_path, always):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
    out = tmp_path / "t.json"
    with module_ranges(model, always=always):
        loss = model(torch.randn(4, 8)).sum()  # no profiler yet: no fwd ranges recorded
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            loss.backward()
    prof.export_chrome_trace(str(out))
    spans = _spans(out)
    names = [n for *_, n in spans]
    assert not [n for n in names if n.endswith(" fwd")]
    addmm = [s for s, _, n in spans if n == ADDMM]
    assert len(addmm) == 2
    for layer in ("0", "1"):
        (rng,) = [(s, e) for s, e, n in spans if n == f"Linear {layer} bwd"]
        # each range holds its own layer's node only; layer 1 runs first in the backward
        inside = [a for a in addmm if rng[0] <= a < rng[1]]
        assert inside == [addmm[1 - int(layer)]]


def test_no_ranges_left_open_without_profiler():
    """Steps with no profiler leave nothing open: a later recorded step nests normally."""
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
    with module_ranges(model) as paths:
        for _ in range(3):
            model(torch.randn(4, 8, requires_grad=True)).sum().backward()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model(torch.randn(4, 8, requires_grad=True)).sum().backward()
    assert paths == ["0", "1"]
    got = sorted(e.name for e in prof.events() if e.name.startswith("Linear "))
    assert got == ["Linear 0 bwd", "Linear 0 fwd", "Linear 1 bwd", "Linear 1 fwd"]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_deferred_walk_with_nesting_and_checkpointing(tmp_path):
    """A forward run with no profiler defers its walk to the backward: a profiler started
    in between still gets every bwd range, nested, each holding its own nodes (the processor
    adopts its checkpointed blocks)."""
    from test_capture import RANGE, EncProcDec, _check_nesting
    torch.manual_seed(0)
    model = EncProcDec()
    out = tmp_path / "t.json"
    with module_ranges(model):
        loss = model(torch.randn(8, 16)).sum()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            loss.backward()
    prof.export_chrome_trace(str(out))
    spans = _spans(out)
    ours = [(s, e, 0, n) for s, e, n in spans if RANGE.match(n)]
    _check_nesting(ours)
    addmm = [s for s, _, n in spans if n == "autograd::engine::evaluate_function: AddmmBackward0"]
    assert len(addmm) == 8  # 4 blocks × 2 Linear
    bwd = {n: (s, e) for s, e, _, n in ours if n.endswith(" bwd")}
    assert sorted(bwd) == sorted(f"{c} {p} bwd" for c, p in (
        ("Block", "encoder"), ("Processor", "processor"), ("Block", "processor.proc.0"),
        ("Block", "processor.proc.1"), ("Block", "decoder")))
    for name, n in (("Block encoder bwd", 2), ("Block processor.proc.0 bwd", 2),
                    ("Block processor.proc.1 bwd", 2), ("Block decoder bwd", 2),
                    ("Processor processor bwd", 4)):
        s, e = bwd[name]
        assert sum(s <= a < e for a in addmm) == n, name
    # the recompute: each checkpointed block's forward runs again inside its bwd range
    fwd = [(s, e, n) for s, e, _, n in ours if n.endswith(" fwd")]
    assert sorted(n for *_, n in fwd) == ["Block processor.proc.0 fwd", "Block processor.proc.1 fwd"]
    for s, e, n in fwd:
        bs, be = bwd[n.replace(" fwd", " bwd")]
        assert bs <= s and e <= be
