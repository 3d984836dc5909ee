"""module_ranges' backward walk reuses inner calls: an enclosing call adopts an inner one at
its output nodes (its exit edges stand for its nodes, it counts as one pending item). These
cases leave that path: an enclosing module returning the inner one's output as is (one node,
two calls), an inner module with two outputs, and an inner intermediate used by the enclosing
module past the inner module's outputs. Expected values come from the model's structure: each
Linear layer runs exactly one `AddmmBackward0` node (2-D input) in the backward."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed: the optional extra "
                                            "anemoi-tp[capture]")
from torch import nn  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from anemoi_tp.capture import module_ranges  # noqa: E402

H = 8
# the node's own range: an output node's pre-hook (which opens the backward range) runs inside
# the engine's "evaluate_function: …" range around it, before the node
ADDMM = "AddmmBackward0"


class Two(nn.Module):
    """Two outputs, and an intermediate kept for the caller (self.h)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)

    def forward(self, x):
        self.h = self.a(x)
        return self.b(self.h), self.c(self.h)


class Wrap(nn.Module):
    """Returns its inner module's output as is: both calls own the same output node."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(H, H)

    def forward(self, x):
        return self.inner(x)


class Outer(nn.Module):
    def __init__(self, shortcut: bool) -> None:
        super().__init__()
        self.shortcut = shortcut
        self.pre, self.two, self.wrap, self.post = nn.Linear(H, H), Two(), Wrap(), nn.Linear(H, H)

    def forward(self, x):
        p, q = self.two(self.pre(x))
        # self.two.h reaches Two's first node past Two's outputs; without it, `pre` is
        # reached only through Two's exit edges
        return self.post(self.wrap(p) * q + (self.two.h if self.shortcut else 0))


class Top(nn.Module):
    def __init__(self, shortcut: bool) -> None:
        super().__init__()
        self.body = Outer(shortcut)

    def forward(self, x):
        return self.body(x)


def _ranges(tmp_path, model, steps: int = 2):
    out = tmp_path / "t.json"
    with module_ranges(model, include=["body", "body.two", "body.wrap", "body.wrap.inner"]), \
            profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            model(torch.randn(4, H, requires_grad=True)).sum().backward()
    prof.export_chrome_trace(str(out))
    ev = [e for e in json.load(open(out))["traceEvents"] if e.get("ph") == "X"]
    spans = sorted((e["ts"], e["ts"] + e["dur"], e["name"]) for e in ev)
    return spans


@pytest.mark.parametrize("shortcut", [False, True])
def test_adopted_inner_calls(tmp_path, shortcut):
    torch.manual_seed(0)
    model = Top(shortcut)
    spans = _ranges(tmp_path, model)
    addmm = [s for s, _, n in spans if n == ADDMM]
    assert len(addmm) == 2 * 6  # pre, two.a/b/c, wrap.inner, post: 6 Linear layers a step

    def bwd(name):
        return [(s, e) for s, e, n in spans if n == name]

    expected = {"Outer body bwd": 6, "Two body.two bwd": 3, "Wrap body.wrap bwd": 1,
                "Linear body.wrap.inner bwd": 1}
    for name, count in expected.items():
        got = bwd(name)
        assert len(got) == 2, name  # one per step
        assert [sum(s <= a < e for a in addmm) for s, e in got] == [count, count], name
    # nesting: each inner backward range lies inside the enclosing one of its step
    for inner, outer in (("Two body.two bwd", "Outer body bwd"),
                         ("Wrap body.wrap bwd", "Outer body bwd"),
                         ("Linear body.wrap.inner bwd", "Wrap body.wrap bwd")):
        for (s, e), (os_, oe) in zip(bwd(inner), bwd(outer)):
            assert os_ <= s and e <= oe, (inner, outer)
