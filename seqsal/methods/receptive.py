"""Receptive-field ISM for any model whose graph can be traced: the local trunk of a ``torch.fx`` graph.

fastISM (Nair et al. 2022) recomputes, for each single-base substitution, only the outputs of each layer that the
substitution can reach. :func:`trace_plan` finds the part of a model where that is possible from its graph
(``torch.fx.symbolic_trace`` of an ``nn.Module``, or the graph a ``torch.export`` program's ``.module()`` already
is): the **trunk**, every operation from the input on whose output at a position depends only on a window of its
inputs' positions (:class:`Local`):

* convolutions over the length (any kernel, stride, dilation and groups; zero or ``same`` padding),
* max and average pooling without padding, slices of the length axis and zero padding of it,
* elementwise functions of trunk tensors and of constants that do not vary along the length (activations,
  residual sums, gates, eval-mode batch norm and dropout), concatenation over channels.

Everything else (flattening, dense layers, global pooling, attention, ...) is the **head**: it runs on the
trunk's outputs rebuilt in full (the reference's activations with each mutant's changed window written in).
Whatever the trace cannot prove local stays in the head, so the fast path is exact by construction; ``ism``
also checks it against the naive path on a few substitutions before trusting it.

A plan keeps the graph and its cut, never a value: every weight, buffer and input-independent value (a weight
computed in ``forward``, e.g. ``softplus(raw)``, a parametrized weight) is read from each sequence's own reference
run, so a plan follows in-place updates of the model; a change of its structure needs a new plan (``ism`` keys its
cache on :func:`seqsal.models.fingerprint.model_fingerprint`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import fx, nn

from .ops import ELEMENTWISE, argument, op_name

# elementwise (position by position) besides ELEMENTWISE's nonlinearities; "max"/"min" are left out (reductions)
_POINTWISE = (ELEMENTWISE - {"maximum", "minimum", "fmax", "fmin"}) | frozenset({
    "add", "add_", "__add__", "__radd__", "__iadd__", "sub", "sub_", "__sub__", "__rsub__", "__isub__", "rsub",
    "mul", "mul_", "__mul__", "__rmul__", "__imul__", "div", "div_", "__truediv__", "__rtruediv__", "__itruediv__",
    "true_divide", "neg", "neg_", "__neg__", "contiguous", "clone", "float", "alias", "maximum", "minimum",
})
_POINTWISE_MODULES = (nn.ReLU, nn.ReLU6, nn.GELU, nn.Sigmoid, nn.Tanh, nn.ELU, nn.SELU, nn.CELU, nn.SiLU, nn.Mish,
                      nn.Softplus, nn.LeakyReLU, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.LogSigmoid,
                      nn.Softsign, nn.Identity, nn.Tanhshrink, nn.Softshrink, nn.Hardshrink)
_METADATA = frozenset({"size", "dim", "get:shape", "get:ndim", "get:dtype", "get:device", "sym_size"})
_EVAL_ONLY = (nn.Dropout, nn.BatchNorm1d)  # pointwise in eval mode
_GUARDS = "_guards_fn"  # a torch.export module's input-shape checks (no output): not run on the mutants
_BATCH_NORMS = frozenset({"batch_norm", "_native_batch_norm_legit_no_training"})


@dataclass
class Local:
    """One trunk operation: output position ``j`` reads positions ``[j s - pad, j s - pad + reach)`` of each trunk
    input (zero outside the input); ``run(values, *windows)`` computes the outputs of a window from those inputs'
    windows (``(M, C, W)`` each) without padding, reading any constant (weights, values computed from them) from
    ``values``, the node values of the current reference run."""

    node: fx.Node
    inputs: list[fx.Node]
    run: Callable[..., torch.Tensor]
    reach: int = 1
    stride: int = 1
    pad: int = 0


@dataclass
class TracePlan:
    """A traced model cut into its local trunk and its head (see the module's docstring)."""

    graph: fx.Graph
    module: nn.Module
    locals: dict[fx.Node, Local]
    boundary: list[fx.Node]  # trunk nodes the head (or the output) reads in full
    metadata: set[fx.Node] = field(default_factory=set)  # trunk nodes read only for their shape
    shapes: dict[fx.Node, tuple[int, ...]] = field(default_factory=dict)  # trunk nodes' shapes at batch 1
    verified: dict = field(default_factory=dict)  # input length -> whether the check against naive ISM passed


def _ints(value, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise ValueError("not a 1-d parameter")
        value = value[0]
    return int(value)


def _conv_local(node, source, weight, parameters: Callable, stride, padding, dilation, groups) -> Local:
    """``weight``: its value at trace time (for its shape); ``parameters(values)``: the weight and bias now."""
    kernel = weight.shape[-1]
    stride, dilation = _ints(stride, 1), _ints(dilation, 1)
    reach = dilation * (kernel - 1) + 1
    if isinstance(padding, str):
        if padding == "valid":
            pad = 0
        elif padding == "same" and stride == 1:
            pad = (reach - 1) // 2
        else:
            raise ValueError("padding")
    else:
        pad = _ints(padding)
    if weight.ndim != 3:
        raise ValueError("not a 1-d convolution")
    def run(values, h):
        weight_now, bias_now = parameters(values)
        return F.conv1d(h, weight_now, bias_now, stride, 0, dilation, groups)
    return Local(node, [source], run, reach, stride, pad)


def _pool_local(node, source, kind: str, kernel, stride, padding, dilation=1, ceil_mode=False) -> Local:
    kernel, stride = _ints(kernel), _ints(stride if stride not in (None, [], ()) else kernel)
    if _ints(padding) != 0 or ceil_mode:
        raise ValueError("padded pooling")
    dilation = _ints(dilation, 1)
    if kind == "max":
        run = lambda values, h: F.max_pool1d(h, kernel, stride, 0, dilation)  # noqa: E731
    elif dilation == 1:
        run = lambda values, h: F.avg_pool1d(h, kernel, stride, 0)  # noqa: E731
    else:
        raise ValueError("dilated average pooling")
    return Local(node, [source], run, dilation * (kernel - 1) + 1, stride, 0)


class _Tracer:
    """Classifies each node of a graph: trunk (a :class:`Local`), head, or independent of the input."""

    def __init__(self, graph: fx.Graph, module: nn.Module, values: dict[fx.Node, Any]):
        self.graph, self.module, self.values = graph, module, values
        self.depends: set[fx.Node] = set()
        self.locals: dict[fx.Node, Local] = {}

    def _trunk_tensor(self, value) -> bool:
        return isinstance(value, fx.Node) and value in self.locals

    def _constant_ok(self, value) -> bool:
        """A non-trunk argument of an elementwise op: it must not depend on the input nor vary along the length."""
        if isinstance(value, fx.Node):
            if value in self.depends:
                return False
            value = self.values.get(value)
        if isinstance(value, torch.Tensor):
            return value.ndim == 0 or (value.shape[-1] == 1 and (value.ndim < 3 or value.shape[0] == 1))
        return isinstance(value, (int, float, bool, torch.dtype, type(None), str))

    def classify(self, node: fx.Node) -> Local | None:
        """The node's :class:`Local`, or ``None`` (head or independent of the input)."""
        inputs = [a for a in node.all_input_nodes if a in self.depends]
        value = self.values.get(node)
        if not inputs or not isinstance(value, torch.Tensor) or value.ndim != 3:
            return None
        if any(a not in self.locals for a in inputs):
            return None
        try:
            if node.op == "call_module":
                return self._module(node, self.module.get_submodule(node.target), inputs)
            if node.op in ("call_function", "call_method"):
                name = node.target if node.op == "call_method" else op_name(node.target)
                return self._function(node, name, inputs)
        except (ValueError, TypeError, IndexError):
            return None
        return None

    def _module(self, node, module: nn.Module, inputs) -> Local | None:
        if len(node.args) != 1 or node.kwargs or node.args[0] not in self.locals:
            return None
        source = node.args[0]
        if _hooked(module):
            return None
        if isinstance(module, nn.Conv1d):
            if module.padding_mode != "zeros":
                return None
            # read when run: a parametrized (weight_norm) weight is computed from its parameters on each access
            return _conv_local(node, source, module.weight, lambda values: (module.weight, module.bias),
                               module.stride, module.padding, module.dilation, module.groups)
        if isinstance(module, (nn.MaxPool1d, nn.AvgPool1d)):
            kind = "max" if isinstance(module, nn.MaxPool1d) else "avg"
            if getattr(module, "return_indices", False):
                return None
            return _pool_local(node, source, kind, module.kernel_size, module.stride, module.padding,
                               getattr(module, "dilation", 1), module.ceil_mode)
        if isinstance(module, _POINTWISE_MODULES) or (isinstance(module, _EVAL_ONLY) and not module.training):
            return Local(node, [source], lambda values, h: module(h))
        return None

    def _function(self, node, name: str, inputs) -> Local | None:
        args, kwargs = node.args, node.kwargs
        value = {n: self.values.get(n) for n in node.all_input_nodes}
        arg = lambda a: value[a] if isinstance(a, fx.Node) else a  # noqa: E731
        target = node.target
        raw = lambda names, position, default=None: argument(  # noqa: E731
            target, args, kwargs, names, position, default)
        get = lambda names, position, default=None: arg(raw(names, position, default))  # noqa: E731
        if name in ("conv1d", "convolution", "_convolution_mode") and args and args[0] in self.locals:
            if name == "convolution" and (get(("transposed",), 6, False) or any(get(("output_padding",), 7, [0]))):
                return None
            groups = get(("groups",), 8 if name == "convolution" else 6, 1)
            if len(inputs) != 1 or any(isinstance(a, fx.Node) and a in self.depends for a in args[1:3]):
                return None
            weight, bias = raw(("weight",), 1), raw(("bias",), 2)  # nodes: read from each run's values
            now = lambda values, a: values[a] if isinstance(a, fx.Node) else a  # noqa: E731
            return _conv_local(node, args[0], arg(weight), lambda values: (now(values, weight), now(values, bias)),
                               get(("stride",), 3, 1), get(("padding",), 4, 0), get(("dilation",), 5, 1), groups)
        if name in ("max_pool1d", "avg_pool1d") and len(inputs) == 1 and args[0] in self.locals:
            if get(("return_indices",), 6, False):
                return None
            dilation = get(("dilation",), 4, 1) if name == "max_pool1d" else 1
            ceil = get(("ceil_mode",), 5 if name == "max_pool1d" else 4, False)
            return _pool_local(node, args[0], name[:3], get(("kernel_size",), 1), get(("stride",), 2),
                               get(("padding",), 3, 0), dilation, ceil)
        if name == "getitem" and len(args) == 2 and args[0] in self.locals:
            return self._slice(node, args[0], args[1])
        if name in ("pad", "constant_pad_nd") and args[0] in self.locals and len(inputs) == 1:
            widths = list(arg(args[1]))
            fill = arg(kwargs.get("value", args[3] if len(args) > 3 else 0)) if name == "pad" else \
                arg(args[2] if len(args) > 2 else 0)
            mode = kwargs.get("mode", args[2] if len(args) > 2 else "constant") if name == "pad" else "constant"
            if mode != "constant" or (fill or 0) != 0 or len(widths) != 2:
                return None
            return Local(node, [args[0]], lambda values, h: h, 1, 1, int(widths[0]))
        if name in ("cat", "concat", "concatenate"):
            tensors, dim = args[0], arg(kwargs.get("dim", args[1] if len(args) > 1 else 0))
            if dim not in (1, -2) or not all(self._trunk_tensor(t) for t in tensors):
                return None
            if len({self.values[t].shape[-1] for t in tensors}) != 1:
                return None
            return Local(node, list(tensors), lambda values, *hs: torch.cat(hs, dim=1))
        if name in _BATCH_NORMS or name in ("dropout", "feature_dropout", "dropout1d"):
            return self._eval_only(node, name, inputs)
        if name in _POINTWISE:
            return self._pointwise(node, inputs)
        return None

    def _eval_only(self, node, name, inputs) -> Local | None:
        if len(inputs) != 1 or node.args[0] not in self.locals:
            return None
        if name == "_native_batch_norm_legit_no_training":
            return None  # returns a tuple: read through getitem, which the head handles
        training = argument(node.target, node.args, node.kwargs, ("training", "train"),
                            5 if name in _BATCH_NORMS else 2, name not in _BATCH_NORMS)
        if training:
            return None
        if name in _BATCH_NORMS:  # per-channel statistics and affine: constants (not shaped like the length)
            others = [a for a in node.all_input_nodes if a is not node.args[0]]
            if any(a in self.depends for a in others):
                return None
            return Local(node, inputs, _caller(node, inputs))
        return self._pointwise(node, inputs)

    def _pointwise(self, node, inputs) -> Local | None:
        flat = list(node.args) + list(node.kwargs.values())
        if any(isinstance(a, (list, tuple, dict)) for a in flat):
            return None
        lengths = {self.values[a].shape[-1] for a in inputs}
        if len(lengths) != 1 or self.values[node].shape[-1] not in lengths:
            return None
        if not all(a in self.locals or self._constant_ok(a) for a in flat):
            return None
        return Local(node, inputs, _caller(node, inputs))

    def _slice(self, node, source, index) -> Local | None:
        if not isinstance(index, tuple) or len(index) != 3 or index[0] != slice(None) or index[1] != slice(None):
            return None
        cut = index[2]
        if not isinstance(cut, slice) or cut.step not in (None, 1):
            return None
        length = self.values[source].shape[-1]
        start = range(length)[cut].start if len(range(length)[cut]) else 0
        return Local(node, [source], lambda values, h: h, 1, 1, -start)


def _hooked(module: nn.Module) -> bool:
    """Whether forward hooks would run on the module (a window run bypasses them: it stays in the head)."""
    hooks = nn.modules.module
    return bool(module._forward_hooks or module._forward_pre_hooks or hooks._global_forward_hooks
                or hooks._global_forward_pre_hooks)


def _caller(node: fx.Node, inputs: list[fx.Node]) -> Callable:
    """The node's own call with its trunk inputs replaced by windows (constants from ``values``, the current
    reference run: never from the run the plan was traced on)."""
    def run(values, *windows):
        env = dict(zip(inputs, windows))
        args = fx.node.map_arg(node.args, lambda n: env[n] if n in env else values[n])
        kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n] if n in env else values[n])
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        return node.target(*args, **kwargs)
    return run


def traced_graph(model: nn.Module, x: torch.Tensor) -> fx.GraphModule | None:
    """The ``torch.fx`` graph of a model: its own (a ``torch.export`` program's ``.module()``), a symbolic trace
    of an ``nn.Module``, a TorchScript module converted to a ``torch.export`` program (PyTorch's
    ``TS2EPConverter``, run on ``x`` ``(1, 4, L)`` twice over), or ``None`` (a forward neither can follow).
    A TorchScript model rewritten to return a sigmoid's input (:class:`seqsal.models.logit_output.ScriptLogit`):
    its converted graph, rewritten the same way."""
    if callable(getattr(model, "fx_rewrite", None)) and isinstance(getattr(model, "model", None), nn.Module):
        return model.fx_rewrite(traced_graph(model.model, x))
    if isinstance(model, torch.jit.ScriptModule):
        try:
            from torch._export.converter import TS2EPConverter  # PyTorch's own converter (a private module)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return TS2EPConverter(model, (x.expand(2, *x.shape[1:]).contiguous(),)).convert().module()
        except Exception:  # noqa: BLE001 - no converter, or a script it cannot convert: no fast path
            return None
    if isinstance(model, fx.GraphModule):
        return model
    if not isinstance(model, nn.Module):
        return None
    try:
        return fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - any tracing failure means: no fast path
        return None


def run_graph(plan: TracePlan, x: torch.Tensor, supplied: dict[fx.Node, torch.Tensor] | None = None,
              keep: bool = False) -> tuple[Any, dict[fx.Node, Any]]:
    """Run a traced graph on ``x``; ``supplied`` trunk values replace (and skip) the computation of those nodes.

    Returns the output and the nodes' values; with ``keep`` (the reference run) each tensor is a copy taken when
    it was made, before any in-place operation (``nn.ReLU(inplace=True)``) wrote into it.
    """
    env: dict[fx.Node, Any] = {}
    kept: dict[fx.Node, Any] = {}
    supplied = supplied or {}
    skip = set(plan.locals) if supplied else set()
    for node in plan.graph.nodes:
        if node in supplied:
            env[node] = supplied[node]
            continue
        if node in skip or (supplied and node.op == "call_module" and node.target == _GUARDS):
            continue
        if node.op == "placeholder":
            env[node] = x
            kept[node] = x
            continue
        if node.op == "output":
            return fx.node.map_arg(node.args[0], lambda n: env[n]), (kept if keep else env)
        args = fx.node.map_arg(node.args, lambda n: env[n])
        kwargs = fx.node.map_arg(node.kwargs, lambda n: env[n])
        if node.op == "get_attr":
            value: Any = plan.module
            for part in node.target.split("."):
                value = getattr(value, part)
            env[node] = value
        elif node.op == "call_module":
            env[node] = plan.module.get_submodule(node.target)(*args, **kwargs)
        elif node.op == "call_method":
            env[node] = getattr(args[0], node.target)(*args[1:], **kwargs)
        else:
            env[node] = node.target(*args, **kwargs)
        if keep:  # parameters are not written in place: kept as they are
            value = env[node]
            kept[node] = value.clone() if isinstance(value, torch.Tensor) and node.op != "get_attr" else value
    raise ValueError("graph without output")


def trace_plan(model: nn.Module, x: torch.Tensor) -> TracePlan | None:
    """Cut a model's traced graph into a local trunk and a head, from a run on one sequence.

    Parameters
    ----------
    model
        Any model taking one-hot ``(N, 4, L)``.
    x
        ``(1, 4, L)``: a sequence to run the graph on (for the shapes and constants).

    Returns
    -------
    TracePlan or None
        ``None`` when the model has no graph (TorchScript, an untraceable forward), takes more than one input, or
        its input feeds no local operation.
    """
    graph_module = traced_graph(model, x)
    if graph_module is None:
        return None
    graph = graph_module.graph
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        return None
    plan = TracePlan(graph, graph_module, {}, [])
    try:
        with torch.no_grad():
            _, values = run_graph(plan, x, keep=True)
    except Exception:  # noqa: BLE001 - a graph that does not run as traced: no fast path
        return None
    tracer = _Tracer(graph, graph_module, values)
    source = placeholders[0]
    tracer.depends.add(source)
    tracer.locals[source] = Local(source, [], lambda values: None)
    for node in graph.nodes:
        if node is source:
            continue
        if any(a in tracer.depends for a in node.all_input_nodes):
            tracer.depends.add(node)
            local = tracer.classify(node)
            if local is not None:
                tracer.locals[node] = local
    plan.locals = tracer.locals
    for node in plan.locals:
        users = list(node.users)
        readers = [u for u in users if u not in plan.locals and not (u.op == "call_module" and u.target == _GUARDS)]
        if readers and all(_is_metadata(u) for u in readers):
            plan.metadata.add(node)
        elif readers:
            plan.boundary.append(node)
    if len(plan.locals) < 2:
        return None
    plan.shapes = {node: tuple(values[node].shape) for node in plan.locals}
    return plan  # keeps no value of this run: each row's calls read their constants from its own reference run


def _is_metadata(node: fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in _METADATA
    if node.op == "call_function":
        name = op_name(node.target)
        if name == "getattr":
            return node.args[1] in ("shape", "ndim", "dtype", "device")
        return name in _METADATA
    return False


def _windows(previous: torch.Tensor, window_start: torch.Tensor, width: int) -> torch.Tensor:
    """Windows ``[window_start, window_start + width)`` of ``previous`` ``(C, L)``, zero outside ``[0, L)``:
    ``(M, C, width)`` (a copy), one per entry of ``window_start`` ``(M,)``."""
    length = previous.shape[-1]
    before = max(0, -int(window_start.min()))
    after = max(0, int(window_start.max()) + width - length)
    padded = F.pad(previous, (before, after))
    return padded.unfold(-1, width, 1).permute(1, 0, 2)[window_start + before]


def _overlay(window: torch.Tensor, window_start: torch.Tensor, patch: tuple[torch.Tensor, torch.Tensor]
             ) -> torch.Tensor:
    """Windows ``(M, C, W)`` starting at ``window_start`` with a patch ``(start (M,), values (M, C, w))`` written
    in (the patch's columns outside the window dropped); may write into ``window``."""
    start, values = patch
    relative = start - window_start
    width, columns = values.shape[-1], window.shape[-1]
    first = int(relative[0])
    if bool((relative == first).all()) and first >= 0 and first + width <= columns:  # one offset: a slice copy
        window[:, :, first:first + width] = values
        return window
    source = torch.arange(columns, device=values.device)[None] - relative[:, None]  # (M, W) patch column
    inside = (source >= 0) & (source < width)
    picked = values.gather(-1, source.clamp(0, width - 1)[:, None, :].expand(-1, values.shape[1], -1))
    return torch.where(inside[:, None, :], picked, window)


def _advance(local: Local, patches: dict, values: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The changed window of one trunk node's output, from its inputs' patches: ``(start (M,), (M, C, w))``."""
    length = values[local.node].shape[-1]
    lows, highs = [], []
    for source in local.inputs:
        start, patch = patches[source]
        lows.append(-torch.div(-(start + local.pad - (local.reach - 1)), local.stride, rounding_mode="floor"))
        highs.append(torch.div(start + patch.shape[-1] - 1 + local.pad, local.stride, rounding_mode="floor"))
    low = torch.stack(lows).amin(0).clamp(0, length - 1)
    high = torch.maximum(torch.stack(highs).amax(0).clamp(max=length - 1), low)
    width = int((high - low).max()) + 1
    low = low.clamp(max=length - width)
    window_start = low * local.stride - local.pad
    window_width = (width - 1) * local.stride + local.reach
    windows = []
    for source in local.inputs:
        windows.append(_overlay(_windows(values[source][0], window_start, window_width), window_start,
                                patches[source]))
    out = local.run(values, *windows)
    if out.shape[-1] != width:
        raise ValueError(f"a window of {local.node.name} gave {out.shape[-1]} outputs, not {width}")
    return low, out


def _rebuild(reference: torch.Tensor, patch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Whole activations ``(M, C, L)``: the reference's ``(1, C, L)`` with each mutant's patch written in."""
    start, values = patch  # inside [0, L) (see _advance)
    full = reference.expand(values.shape[0], *reference.shape[1:]).clone()
    columns = start[:, None] + torch.arange(values.shape[-1], device=values.device)[None]
    return full.scatter_(-1, columns[:, None, :].expand(-1, values.shape[1], -1), values)


def trace_ism_row(plan: TracePlan, row: torch.Tensor, positions, bases, select: Callable[[Any], torch.Tensor],
                  mutant_batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Receptive-field ISM of one sequence through a :class:`TracePlan`.

    Parameters
    ----------
    plan
        From :func:`trace_plan`.
    row
        One-hot ``(4, L)``.
    positions, bases
        ``(P,)`` each: the substitutions (the base written at each position).
    select
        Model output -> target ``(M,)`` (e.g. :meth:`seqsal.attribution.Target.select`).
    mutant_batch
        Mutants per pass.

    Returns
    -------
    values, reference
        ``(P,)`` the target of each mutant and the reference's target (a scalar tensor).

    Raises
    ------
    ValueError
        When a window does not give the outputs the plan expects (the caller falls back to naive ISM).
    """
    source = next(n for n in plan.graph.nodes if n.op == "placeholder")
    with torch.no_grad():
        output, values = run_graph(plan, row[None], keep=True)
        reference = select(output).float()[0]
        results = []
        order = [node for node in plan.graph.nodes if node in plan.locals and node is not source]
        for first in range(0, len(positions), mutant_batch):
            p = torch.as_tensor(positions[first:first + mutant_batch], device=row.device)
            b = torch.as_tensor(bases[first:first + mutant_batch], device=row.device)
            m = p.shape[0]
            one_hot = torch.zeros(m, row.shape[0], 1, dtype=row.dtype, device=row.device)
            one_hot[torch.arange(m, device=row.device), b, 0] = 1
            patches = {source: (p, one_hot)}
            for node in order:
                patches[node] = _advance(plan.locals[node], patches, values)
            supplied = {node: _rebuild(values[node], patches[node]) for node in plan.boundary}
            for node in plan.metadata - set(plan.boundary):
                supplied[node] = torch.empty((m, *values[node].shape[1:]), device="meta")
            output, _ = run_graph(plan, row[None], supplied)
            results.append(select(output).float())
    return (torch.cat(results) if results else row.new_zeros(0)), reference
