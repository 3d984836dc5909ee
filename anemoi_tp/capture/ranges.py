"""Module ranges: `record_function` ranges "<Class> <path> fwd|bwd" around chosen modules
(torch's fast record_function, cpu_op events in the trace; or, on request, user_annotation ones).

Forward: a forward pre-hook opens the range, a forward hook (``always_call``: also on
exceptions) closes it.

Backward: at the end of a module's forward, the autograd nodes it created are found from its
outputs' ``grad_fn`` by sequence number (the per-thread counter that numbers nodes as they are
created: the module's nodes are those numbered since its forward began; AccumulateGrad nodes
of parameters carry no number and belong to nobody, nor do view nodes that only relabel a
gradient on its way to parameters, as nn.Linear's ``weight.t()``: no kernel, and one hook less
per Linear). A pre-hook on the output nodes opens the "bwd" range when the first of them runs;
post-hooks on the module's *sinks* (its nodes none of
whose next nodes are its own) close it when the last has run: every node of the module leads
to a sink, which runs after it, so all its backward work lies inside. Inputs need not require
grad, and a torch.compile'd submodule is one node like any other. A range still open when the
backward ends (nodes pruned by ``torch.autograd.grad(inputs=…)``, an exception) is closed then.

Only while a profiler is enabled on the thread are ranges opened (nobody records them
otherwise; ``always=True`` opens them anyway). A profiler may start between a forward and its
backward (Lightning steps its schedule there): a forward that ends with none on hooks only its
output nodes, and the first of them to run in the backward (before any node of those calls)
finds and hooks the nodes then if a profiler is on, else drops them (``_defer``).

Cost: the nodes are found when the outermost selected forward returns (with no profiler on
then: when the backward reaches its output), for all the calls it made at once, inner calls
first; each node is walked once: an enclosing call meets an inner call at its output nodes and
adopts it whole (the inner call's exit edges stand for its nodes, and it counts as one of the
enclosing call's pending items, done when the inner call is done), so only the sinks of its own
nodes get a hook. (A backward run through a call's nodes before the outermost selected forward
returns gets no range.)

Nesting: a module's nodes are a subset of those of every selected module around it, so opening
a range first opens the enclosing ones not yet open, and an inner range always ends first.
Ranges close in stack order per thread (one ending under a still open sibling waits for it).

Modules compiled in place (``module.compile()``) trace their hooks: those hooks are kept out
of the graph (``torch.compiler.disable``), as modules found compiled when the ranges start.

Non-reentrant activation checkpointing recomputes the forward inside the backward: those
forward calls show as "fwd" ranges inside the module's "bwd" range and register nothing.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

__all__ = ["module_ranges", "default_modules", "select_modules"]

# Anemoi's top-level parts (AnemoiModelEncProcDec: encoder, processor, decoder)
ANEMOI_PARTS = ("encoder", "processor", "decoder")
_NO_SEQ = 2**64 - 1  # AccumulateGrad's sequence number: runs whenever ready, owned by nobody
_CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.ParameterList, nn.ParameterDict)
# Backward nodes of views that only relabel the gradient (no kernel): when such a node leads
# only to parameters (AccumulateGrad) it is nobody's either, so a module's sinks are its real
# nodes (nn.Linear's weight.t(): 5 sinks -> 3 per Anemoi-like block, each sink a Python hook)
_VIEW_NODES = frozenset({
    "TBackward0", "TransposeBackward0", "TransposeBackward1", "PermuteBackward0",
    "UnsqueezeBackward0", "UnsqueezeBackward1", "SqueezeBackward0", "SqueezeBackward1",
    "SqueezeBackward2", "SqueezeBackward3", "SqueezeBackward4", "AliasBackward0",
})
# node type -> _ACC (AccumulateGrad: never anybody's), _VIEW (in _VIEW_NODES) or _OTHER; the walk
# tests each edge's type first: cheaper than a _sequence_nr() call on ~150 edges a step
_ACC, _VIEW, _OTHER = 0, 1, 2
_KINDS: dict[type, int] = {}


def _kind(node: Any) -> int:
    name = type(node).__name__
    kind = _KINDS[type(node)] = (_ACC if name == "AccumulateGrad" else
                                 _VIEW if name in _VIEW_NODES else _OTHER)
    return kind


def _param_view(node: Any) -> bool:
    """A view node of ``_VIEW_NODES`` all of whose next nodes are AccumulateGrad (or None)."""
    kind = _KINDS.get(type(node))
    if kind is None:
        kind = _kind(node)
    if kind != _VIEW:
        return False
    return all(n is None or n._sequence_nr() == _NO_SEQ for n, _ in node.next_functions)

try:  # torch >= 2.2
    _seq_now: Callable[[], int] = torch._C._autograd._get_sequence_nr
except AttributeError:  # pragma: no cover - older torch: a throwaway node shows the counter
    def _seq_now() -> int:
        with torch.enable_grad():
            return torch.empty(0, requires_grad=True).view(0).grad_fn._sequence_nr() + 1


def _eager(fn: Callable) -> Callable:
    """Hooks run eagerly under torch.compile: a module compiled in place (``module.compile()``)
    traces its hooks, and dynamo drops record_function from graphs."""
    disable = getattr(getattr(torch, "compiler", None), "disable", None)
    return disable(fn) if disable is not None else fn


def _traced_modules(model: nn.Module) -> set[int]:
    """Modules whose hooks torch.compile traces: those compiled in place (``.compile()``)
    and everything below them, and everything inside a ``torch.compile(module)`` wrapper
    (whose own hooks run eagerly)."""
    out: set[int] = set()
    for m in model.modules():
        if getattr(m, "_compiled_call_impl", None) is not None:
            out.update(id(x) for x in m.modules())
        inner = getattr(m, "_orig_mod", None)
        if isinstance(inner, nn.Module):
            out.update(id(x) for x in inner.modules())
    return out


def _in_backward() -> bool:
    return torch._C._current_autograd_node() is not None


def _class_name(module: nn.Module) -> str:
    inner = getattr(module, "_orig_mod", None)  # torch.compile's OptimizedModule
    return type(inner if isinstance(inner, nn.Module) else module).__name__


def _callable_modules(path: str, module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Containers have no forward: their items stand for them."""
    if not isinstance(module, _CONTAINERS):
        return [(path, module)]
    out = []
    for name, child in module.named_children():
        out += _callable_modules(f"{path}.{name}" if path else name, child)
    return out


def default_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Anemoi's encoder, processor (and its blocks: the items of its ModuleList children, e.g.
    ``processor.proc.N``) and decoder, the outermost of each name; else the model's children."""
    chosen: list[tuple[str, nn.Module]] = []
    for path, module in model.named_modules():
        last = path.rsplit(".", 1)[-1]
        if last not in ANEMOI_PARTS or any(path.startswith(p + ".") for p, _ in chosen):
            continue
        chosen.append((path, module))
    if not chosen:
        out = []
        for name, child in model.named_children():
            out += _callable_modules(name, child)
        return out
    out = []
    for path, module in chosen:
        out += _callable_modules(path, module)
        if path.rsplit(".", 1)[-1] == "processor":
            inner = getattr(module, "_orig_mod", module)
            prefix = path + (("._orig_mod") if inner is not module else "")
            for name, child in inner.named_children():
                if isinstance(child, nn.ModuleList):
                    out += _callable_modules(f"{prefix}.{name}", child)
    return out


def select_modules(model: nn.Module, include: Any = None,
                   depth: int | None = None) -> list[tuple[str, nn.Module]]:
    """The (path, module) pairs to annotate.

    include: None (``default_modules``, or every module down to ``depth``), a regular
    expression searched in each path, an iterable of exact paths, or a callable
    ``(path, module) -> bool``. depth: keep paths of at most this many dotted parts.
    """
    if include is None and depth is None:
        return default_modules(model)
    keep: Callable[[str, nn.Module], bool]
    if include is None:
        def keep(p: str, m: nn.Module) -> bool:
            return True
    elif isinstance(include, str):
        rx = re.compile(include)

        def keep(p: str, m: nn.Module) -> bool:
            return bool(rx.search(p))
    elif callable(include):
        keep = include
    else:
        wanted = set(include)

        def keep(p: str, m: nn.Module) -> bool:
            return p in wanted
    out = []
    for path, module in model.named_modules():
        if depth is not None and len(path.split(".")) > depth:
            continue
        if path and keep(path, module) and not isinstance(module, _CONTAINERS):
            out.append((path, module))
    return out


def _range_path(path: str) -> str:
    # the name is "<Class> <path> <dir>": a path is one word
    return re.sub(r"\s", "_", path) if path else "<root>"


# thread-local, as the profiler's state: a C call, no Python frame
_profiling: Callable[[], bool] = torch.autograd._profiler_enabled
_OFF = object()  # the handle of a backward call started with no profiler on: no range
try:  # torch >= 2.1
    _graph_task_id: Callable[[], int] = torch._C._current_graph_task_id
except AttributeError:  # pragma: no cover - older torch: one backward at a time per thread
    def _graph_task_id() -> int:
        return threading.get_ident()


try:  # the C binding behind record_function (a "user_annotation" range), without its
    # Python layers: a fifth of the cost, which counts at ~4 ranges per module call
    _open_annotation: Callable[[str], Any] = torch._C._autograd._record_function_with_args_enter
    _close_annotation: Callable[[Any], None] = torch._C._autograd._record_function_with_args_exit
except AttributeError:  # pragma: no cover - a torch without it
    def _open_annotation(name: str) -> Any:
        rf = torch.autograd.profiler.record_function(name)
        rf.__enter__()
        return rf

    def _close_annotation(rf: Any) -> None:
        rf.__exit__(None, None, None)

try:  # torch >= 2.2: the fast record_function (Inductor's, for its kernels): a "cpu_op" range,
    # recorded only while a profiler is on. While torch's profiler records, the bench model's
    # steps (bench_capture.py --profiler [--user-annotation]) cost ~2.5 ms less with these than
    # with user_annotation ranges, about what no ranges at all would cost less; opening and
    # closing one costs 0.7 against 1.8 µs in a warm loop, so most of the difference arises
    # while the ranges are open (where in torch's profiler, not pinned down)
    from torch._C._profiler import _RecordFunctionFast as _Fast

    def _open_fast(name: str) -> Any:
        rf = _Fast(name)
        rf.__enter__()
        return rf

    def _close_fast(rf: Any) -> None:
        rf.__exit__(None, None, None)
except ImportError:  # pragma: no cover - older torch
    _open_fast, _close_fast = _open_annotation, _close_annotation


class _Stack(threading.local):
    def __init__(self) -> None:
        self.items: list[Any] = []
        # root node id -> (root node, outermost call registered on it so far, that call's exit
        # edges): what an enclosing call's walk reuses instead of walking the inner nodes again.
        # Lives while a selected forward is open in this thread (it holds graph nodes).
        self.summaries: dict[int, tuple[Any, _Call, list[tuple[Any, int]]]] = {}
        # (bwd range name, start seq, output nodes) of the calls ended since the outermost
        # selected forward began: registered together when it ends (one warm loop, not many
        # Python bursts between the forward's kernels, which evict the interpreter's caches)
        self.pending: list[tuple[str, int, dict[int, Any]]] = []


class _Call:
    """One forward call of a selected module whose backward is to be annotated. ``pending``:
    its sinks not yet run plus its adopted inner calls not yet finished."""
    __slots__ = ("name", "parent", "pending", "handle", "done", "stack")

    def __init__(self, name: str, parent: _Call | None, pending: int) -> None:
        self.name, self.parent, self.pending = name, parent, pending
        self.handle: Any = None
        self.done = False
        self.stack: list[_Call] | None = None


class _Recorder:
    def __init__(self, modules: list[tuple[str, nn.Module]], always: bool = False,
                 user_annotation: bool = False, backward: bool = True) -> None:
        self.modules = modules
        self.always = always
        self.backward = backward
        # the fast kind needs a profiler on (it checks); always=True serves other consumers
        annotation = user_annotation or always
        self._open = _open_annotation if annotation else _open_fast
        self._close = _close_annotation if annotation else _close_fast
        self.handles: list[Any] = []
        self.fwd = _Stack()   # per thread: (module id, start seq, range, record) + summaries
        self.bwd = _Stack()   # per thread: open backward calls
        # opened, not yet closed (closed on exit); set operations are atomic under the GIL
        self.live: set[_Call] = set()
        # graph task id -> calls opened in that backward: one end-of-backward callback each
        self.backstops: dict[int, list[_Call]] = {}

    # ---------------------------------------------------------------- forward
    def install(self, model: nn.Module) -> None:
        traced = _traced_modules(model)
        for path, module in self.modules:
            base = f"{_class_name(module)} {_range_path(path)}"
            # the dynamo guard costs tens of µs a call: only where hooks would be traced
            wrap = _eager if id(module) in traced else (lambda f: f)
            self.handles.append(module.register_forward_pre_hook(wrap(self._pre(base + " fwd"))))
            self.handles.append(module.register_forward_hook(wrap(self._post(base + " bwd")),
                                                             always_call=True))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
        live = sorted(list(self.live), key=lambda c: -_depth(c))
        for call in live:  # innermost first
            self._finish(call, force=True)
        self.backstops.clear()
        for item in reversed(self.fwd.items):
            if item[2] is not None:
                self._close(item[2])
        self.fwd.items.clear()
        self.fwd.summaries.clear()
        self.fwd.pending.clear()

    def _pre(self, name: str) -> Callable:
        always, open_ = self.always, self._open
        if not self.backward:  # forward ranges only: no sequence number, nothing to register
            def fwd_only(module: nn.Module, args: Any) -> None:
                self.fwd.items.append((id(module), None, open_(name) if always or _profiling()
                                       else None, False))
            return fwd_only

        def hook(module: nn.Module, args: Any) -> None:
            # no profiler on this thread: a range would be recorded by nobody. The backward
            # hooks are registered all the same: Lightning's profiler steps its schedule
            # between training_step and backward, so a step's forward may run unrecorded
            # and its backward recorded
            on = always or _profiling()
            record = torch.is_grad_enabled() and not _in_backward()
            self.fwd.items.append((id(module), _seq_now() if record else None,
                                   open_(name) if on else None, record))
        return hook

    def _post(self, bwd_name: str) -> Callable:
        close = self._close

        def hook(module: nn.Module, args: Any, output: Any) -> None:
            items = self.fwd.items
            # the innermost open forward of this module (always the last one unless a hook
            # of an unselected module raised in between)
            for i in range(len(items) - 1, -1, -1):
                if items[i][0] == id(module):
                    _, start, rf, record = items.pop(i)
                    break
            else:  # pragma: no cover - the ranges were closed by remove()
                return
            if rf is not None:
                close(rf)
            pending = self.fwd.pending
            if record and output is not None and torch.is_grad_enabled():
                roots = {}
                for t in _tensors(output):
                    fn = t.grad_fn
                    if fn is not None and start <= fn._sequence_nr() != _NO_SEQ:
                        roots[id(fn)] = fn
                if roots:
                    pending.append((bwd_name, start, roots))
            if not items:  # the outermost selected forward ended
                try:
                    if pending and (self.always or _profiling()):
                        summaries = self.fwd.summaries
                        for name, start, roots in pending:  # inner calls first: they end first
                            self._register(name, start, roots, summaries)
                    elif pending:  # nobody records now: walk when the backward starts, if then
                        self._defer(pending)
                finally:
                    pending.clear()
                    self.fwd.summaries.clear()  # no enclosing call left to reuse them
        return hook

    # ---------------------------------------------------------------- backward
    def _defer(self, pending: list[tuple[str, int, dict[int, Any]]]) -> None:
        """No profiler at the forward's end (most steps of a run): hook only the output nodes.
        The first of them to run in the backward comes before every node of these calls (each
        is reachable from an output node, so runs after it); there, with a profiler on (one
        started between forward and backward), the calls are registered as at the forward's
        end, else dropped. The hooks keep integers only (the nodes' sequence numbers): a closure
        holding graph nodes, hooked on one of them, is a cycle through C++."""
        calls = [(name, start, tuple(fn._sequence_nr() for fn in roots.values()))
                 for name, start, roots in pending]
        state: dict[str, Any] = {"left": calls, "handles": []}
        trigger = self._trigger(state, min(start for _, start, _ in calls))
        done: set[int] = set()
        for _, _, roots in pending:
            for k, fn in roots.items():
                if k not in done:
                    done.add(k)
                    state["handles"].append((fn._sequence_nr(), fn.register_prehook(trigger)))

    def _trigger(self, state: dict[str, Any], lo: int) -> Callable:
        def prehook(grad_outputs: Any) -> None:
            left = state["left"]
            if not left or not self.handles:  # done, or the ranges were removed
                return
            node = torch._C._current_autograd_node()
            me = node._sequence_nr()
            if not (self.always or _profiling()):
                state["left"] = []
                # the other output nodes' hooks are of no use now (this node's dict is being
                # iterated: its own stays)
                for seq, h in state.pop("handles", ()):
                    if seq != me:
                        h.remove()
                return
            # the calls' output nodes reachable from here: all of them, unless a call has
            # outputs that do not lead here. A call none of whose outputs does waits for its
            # own output nodes' hooks; one with some that do is registered from those, so in
            # this one step (forward unrecorded, backward recorded) its range may miss work
            # reachable only from its other outputs
            wanted = {s for _, _, seqs in left for s in seqs}
            found: dict[int, Any] = {}
            seen: dict[int, Any] = {}
            todo = [node]
            while todo:
                n = todo.pop()
                if id(n) in seen:
                    continue
                seen[id(n)] = n
                seq = n._sequence_nr()
                if seq in wanted:
                    found[seq] = n
                for m, _ in n.next_functions:
                    if m is not None and lo <= m._sequence_nr() != _NO_SEQ:
                        todo.append(m)
            summaries: dict[int, tuple[Any, _Call, list[tuple[Any, int]]]] = {}
            here: list[_Call] = []
            rest = []
            for name, start, seqs in left:  # inner calls first, as at the forward's end
                if not any(s in found for s in seqs):
                    rest.append((name, start, seqs))
                    continue
                roots = {id(found[s]): found[s] for s in seqs if s in found}
                self._register(name, start, roots, summaries, skip=id(node), here=here)
            state["left"] = rest
            # this node's openers: not added to the hooks of a node whose hooks run now
            for call in here:
                if call.handle is None and not call.done:
                    self._start(call)
        return prehook

    def _register(self, name: str, start: int, roots: dict[int, Any],
                  summaries: dict[int, tuple[Any, _Call, list[tuple[Any, int]]]],
                  skip: int | None = None, here: list[_Call] | None = None) -> None:
        """Find the call's sinks (its nodes none of whose next nodes are its own) and hook
        them and its output nodes. Walks each node once per forward: an inner selected call,
        registered earlier, is adopted at its output nodes as a whole (its exit edges stand
        for its nodes; it counts as one pending item, done when it is), not walked again."""
        call = _Call(name, None, 0)
        seen: dict[int, Any] = {}  # expanded nodes (held: their ids stay theirs)
        exits: dict[int, tuple[Any, int]] = {}  # next nodes outside the call, with seq nr
        sinks = []
        handled: set[int] = set()  # inner calls met in this walk
        todo = list(roots.values())
        kinds = _KINDS
        while todo:
            node = todo.pop()
            k = id(node)
            if k in seen:
                continue
            seen[k] = node
            entry = summaries.get(k)
            if entry is not None:  # output node of an inner selected call
                inner, inner_exits = entry[1], entry[2]
                if id(inner) not in handled:
                    handled.add(id(inner))
                    if inner.parent is None:
                        inner.parent = call
                        call.pending += 1
                    for n, seq in inner_exits:
                        if seq >= start:
                            if not _param_view(n):
                                todo.append(n)
                        else:
                            exits[id(n)] = (n, seq)
                if inner.parent is call:
                    continue
                # an inner call adopted by another one (reached here past that one's outputs):
                # walk on as if it were not there
            own = False
            for n, _ in node.next_functions:
                if n is None:
                    continue
                kind = kinds.get(type(n))
                if kind is None:
                    kind = _kind(n)
                if kind == _ACC:
                    continue
                seq = n._sequence_nr()
                if seq == _NO_SEQ:
                    continue
                if seq >= start:
                    if kind == _VIEW and _param_view(n):
                        continue
                    own = True
                    todo.append(n)
                else:
                    exits[id(n)] = (n, seq)
            if not own:
                sinks.append(node)
        call.pending += len(sinks)
        if call.pending == 0:  # pragma: no cover - a node set always has a sink
            return
        summary = list(exits.values())
        for k, fn in roots.items():
            entry = summaries.get(k)
            # an adopted inner call's output node: its opener opens this range too
            if entry is None or entry[1].parent is not call:
                if k == skip and here is not None:
                    here.append(call)
                else:
                    fn.register_prehook(self._opener(call))
            summaries[k] = (fn, call, summary)
        if sinks:
            closer = self._closer(call)
            for fn in sinks:
                fn.register_hook(closer)

    def _opener(self, call: _Call) -> Callable:
        # the closure must not hold the node: node -> hook -> node is a cycle through C++
        def prehook(grad_outputs: Any) -> None:
            if call.handle is None and not call.done:
                self._start(call)
        return prehook

    def _start(self, call: _Call) -> None:
        chain = []
        c: _Call | None = call
        while c is not None and c.handle is None and not c.done:
            chain.append(c)
            c = c.parent
        stack = self.bwd.items
        # backstop: close them when this backward ends, if their sinks did not all run (one
        # callback per backward; it runs on the thread that called backward, maybe not this)
        task = _graph_task_id()
        batch = self.backstops.get(task)
        if batch is None:
            batch = self.backstops[task] = []
            torch.autograd.Variable._execution_engine.queue_callback(
                lambda: self._backstop(task))
        on = self.always or _profiling()
        for c in reversed(chain):  # outermost first
            c.handle = self._open(c.name) if on else _OFF
            c.stack = stack
            stack.append(c)
            self.live.add(c)
            batch.append(c)

    def _backstop(self, task: int) -> None:
        for c in reversed(self.backstops.pop(task, ())):  # innermost first
            self._finish(c, force=True)

    def _closer(self, call: _Call) -> Callable:
        def posthook(grad_inputs: Any, grad_outputs: Any) -> None:
            call.pending -= 1
            if call.pending <= 0:
                self._finish(call)
        return posthook

    def _finish(self, call: _Call, force: bool = False) -> None:
        if call.done:
            return
        call.done = True
        stack = call.stack
        if stack is not None:  # opened
            # close in stack order: a call under a still open one waits for it
            while stack and stack[-1].done:
                c = stack.pop()
                if c.handle is not _OFF:
                    self._close(c.handle)
                self.live.discard(c)
            if force and call in stack:  # leaving: close everything down to it
                while stack:
                    c = stack.pop()
                    c.done = True
                    if c.handle is not _OFF:
                        self._close(c.handle)
                    self.live.discard(c)
                    if c is call:
                        break
        # the enclosing call counted this one as a pending item
        parent = call.parent
        if parent is not None and not parent.done:
            parent.pending -= 1
            if parent.pending <= 0:
                self._finish(parent)


def _depth(call: _Call) -> int:
    d, c = 0, call.parent
    while c is not None:
        d, c = d + 1, c.parent
    return d


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            yield from _tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _tensors(x)


@contextmanager
def module_ranges(model: nn.Module, include: Any = None, depth: int | None = None,
                  always: bool = False, user_annotation: bool = False,
                  backward: bool = True) -> Iterator[list[str]]:
    """Emit "<Class> <path> fwd" / "<Class> <path> bwd" ranges for the chosen modules of
    ``model`` (see ``select_modules``) while the block runs; yields the chosen paths.
    The hooks are removed, and ranges still open closed, on exit.

    By default a forward call gets its ranges (and its backward its hooks) only while a
    profiler is enabled on the thread (``torch.autograd._profiler_enabled()``), as a range
    opened otherwise is recorded by nobody; the other steps of a run pay a check per call.
    The ranges are torch's fast ``record_function`` (``_RecordFunctionFast``): in the trace
    they are ``cpu_op`` events, which anemoi-tp reads as module ranges (a 'module' pattern
    matches their names), not as operators.
    user_annotation: write them as ``record_function`` does, category ``user_annotation``
    (Kineto then also draws each on the GPU timeline, as ``gpu_user_annotation``); while the
    profiler records, this costs more (``bench/bench_capture.py --profiler --user-annotation``).
    always: emit them anyway (as user_annotation), for other consumers of
    ``record_function`` ranges (an execution trace observer, an on-demand (global) Kineto
    session).
    backward: False writes the "fwd" ranges only, with no autograd hooks: the cheapest mode
    (``bench/bench_capture.py --profiler --no-backward``). anemoi-tp then attributes the
    backward's GPU time to modules through each backward op's forward op inside a "fwd" range
    (the profiler's fwdbwd flow, else the ``Sequence number``: its fallback path), and its
    host time to no module."""
    chosen = select_modules(model, include, depth)
    rec = _Recorder(chosen, always, user_annotation, backward)
    rec.install(model)
    try:
        yield [p for p, _ in chosen]
    finally:
        rec.remove()
