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
