"""Whether a model's output is a probability: the last operation before it is a sigmoid, a softmax or a log-softmax.

A classifier that applies its sigmoid or softmax inside ``forward`` (Basset, SpliceAI and many user models; a
TorchScript or exported file then holds no logit at all) returns probabilities. Explaining a probability hides
features where the model is most confident: ``dp/dx = p (1 - p) dz/dx`` for a sigmoid, ``dp_k/dx = p_k (dz_k/dx -
sum_j p_j dz_j/dx)`` for class ``k`` of a softmax, both vanishing as ``p`` saturates, so an active region's
attributions shrink against an inactive region's (the calibration zoo's ``sigmoid_A``, benchmarks/RESULTS.md,
issue 13); a log-softmax's ``d log p_k = dz_k - sum_j p_j dz_j`` vanishes the same way as ``p_k -> 1``. DeepLIFT's
authors explain the value before the sigmoid or softmax for this reason (Shrikumar, Greenside & Kundaje, ICML 2017,
section 3.6), and so does seqsal by default: :func:`probability_output` finds the operation in the model's graph,
and the pipeline (:func:`seqsal.output_transforms.choose_transform`) explains

* a sigmoid's ``log(p / (1 - p))`` (``--target ...,transform=logit``), whose gradient is ``dz/dx`` exactly;
* class ``k`` of a softmax (or log-softmax) over the task axis as its log-odds against the other classes,
  ``log(p_k / sum_{j != k} p_j) = z_k - logsumexp_{j != k} z_j`` (``transform=log_odds``, ``log_odds_logp``),
  which for two classes is the logit ``z_1 - z_0`` and does not saturate as ``p_k -> 1``.

The graph is read, never guessed from output values (a regression model can return values in ``(0, 1)``):

* TorchScript: the inlined graph of ``forward`` (submodule calls included; both branches of an ``if``, as
  ``F.log_softmax`` compiles, must agree);
* ``torch.export`` programs (their module is an ``fx.GraphModule``) and other graph modules: their graph;
* any other ``nn.Module``: a ``torch.fx`` symbolic trace; a model that cannot be traced (data-dependent
  control flow) is reported as ``unknown``.

Operations that only change the shape or select elements (``squeeze``, ``view``, ``reshape``, ``flatten``,
indexing and slicing, ``select``, ``narrow``, ``permute``, ``transpose``, ``chunk``/``split``/``unbind`` and their
items, ...) between the operation and the output are looked through: ``sigmoid(z)[:, 0]`` and
``sigmoid(z).squeeze(-1)`` are still probabilities. After a softmax they move its axis, so the axis is then
reported as not known (``dim=None``).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
from torch import fx, nn

_SCRIPT_KINDS = {"aten::sigmoid": "sigmoid", "aten::sigmoid_": "sigmoid", "aten::special_expit": "sigmoid",
                 "aten::softmax": "softmax", "aten::_softmax": "softmax", "aten::special_softmax": "softmax",
                 "aten::log_softmax": "log_softmax", "aten::_log_softmax": "log_softmax",
                 "aten::special_log_softmax": "log_softmax"}
_SCRIPT_SHAPE_OPS = frozenset({"aten::squeeze", "aten::squeeze_", "aten::unsqueeze", "aten::view", "aten::reshape",
                               "aten::flatten", "aten::contiguous", "aten::clone", "aten::to",
                               # selections: each output value is one of the input's
                               "aten::slice", "aten::select", "aten::narrow", "aten::index", "aten::index_select",
                               "aten::permute", "aten::transpose", "aten::t", "aten::movedim", "aten::expand",
                               "aten::chunk", "aten::split", "aten::unbind", "aten::__getitem__",
                               "prim::ListUnpack", "prim::ConstantChunk", "prim::TupleIndex"})
_SCRIPT_KEEP_AXES = frozenset({"aten::contiguous", "aten::clone", "aten::to"})  # a softmax's axis stays where it was
_SHAPE_METHODS = frozenset({"squeeze", "unsqueeze", "view", "reshape", "flatten", "contiguous", "clone",
                            "to", "float", "double",  # fresh27c: sigmoid(z).float() explained the saturated p
                            "type", "half", "bfloat16",  # review28: sigmoid(z).type(torch.float32) the same
                            "select", "narrow", "index_select", "permute", "transpose", "t", "movedim", "expand",
                            "chunk", "split", "unbind", "__getitem__"})
_SHAPE_FUNCTIONS = frozenset({"squeeze", "unsqueeze", "view", "reshape", "flatten", "clone", "_unsafe_view",
                              "_to_copy", "to",  # fresh27c: torch.export's cast after a sigmoid
                              "select", "narrow", "index_select", "permute", "transpose", "t", "movedim", "expand",
                              "chunk", "split", "unbind", "slice", "getitem", "index"})
_KEEP_AXES = frozenset({"contiguous", "clone", "to", "float", "double", "type", "half", "bfloat16", "_to_copy"})
_SCRIPT_JOINS = frozenset({"aten::cat", "aten::concat", "aten::concatenate", "aten::stack", "aten::hstack",
                           "aten::column_stack", "aten::vstack", "aten::row_stack", "aten::dstack"})
_JOINS = frozenset({"cat", "concat", "concatenate", "stack", "hstack", "column_stack", "vstack", "row_stack", "dstack"})
_JOIN_AXES = {"hstack": 1, "column_stack": 1, "vstack": 0, "row_stack": 0, "dstack": 2}  # no dim argument (2-D parts)
_FUNCTION_KINDS = {"sigmoid": "sigmoid", "sigmoid_": "sigmoid", "special_expit": "sigmoid", "expit": "sigmoid",
                   "softmax": "softmax", "_softmax": "softmax", "special_softmax": "softmax",
                   "log_softmax": "log_softmax", "_log_softmax": "log_softmax", "special_log_softmax": "log_softmax"}
_MODULE_KINDS = ((nn.Sigmoid, "sigmoid"), (nn.Softmax, "softmax"), (nn.LogSoftmax, "log_softmax"))
_WRAPPERS = ("ChannelsLast", "FixedBatch")  # seqsal's own transparent wrappers (seqsal.models.user): look inside


@dataclass(frozen=True)
class OutputKind:
    """What a model's selected output is, as its graph shows.

    Attributes
    ----------
    kind
        ``sigmoid``, ``softmax`` or ``log_softmax`` (the last operation before the output, shape-only operations
        aside; a ``torch.cat``/``stack`` of sigmoids is a sigmoid); ``joined`` (a ``cat``/``stack`` of parts some
        of which are probabilities: ``parts``); ``other`` (the graph shows another operation); ``unknown`` (the
        graph cannot be read).
    dim
        ``softmax``/``log_softmax``: the axis it normalises over, as written in the model (may be negative);
        ``joined``: the axis the parts are joined along; ``None`` for the other kinds, and when shape operations
        between it and the output move the axes.
    parts
        ``joined`` (``torch.cat``/``stack`` of values of which some, not all, are probabilities): the kind of each
        part, in order (:func:`joined_part` picks a task's).
    """

    kind: str
    dim: int | None = None
    parts: tuple["OutputKind", ...] = ()

    @property
    def probability(self) -> bool:
        """Whether the output is a probability or a log-probability (it saturates)."""
        return self.kind in ("sigmoid", "softmax", "log_softmax")


def probability_output(module: nn.Module, output: int | str | None = None) -> OutputKind:
    """Whether the selected output of ``module`` is the value of a sigmoid, a softmax or a log-softmax.

    Parameters
    ----------
    module
        The model as seqsal runs it: an ``nn.Module``, a TorchScript module, or an exported program's module,
        possibly inside seqsal's layout or fixed-batch wrapper.
    output
        Which output of a model that returns several (as :class:`seqsal.attribution.Target`'s ``output``): an
        index into a tuple/list, a key of a dict, or ``None`` (the only tensor, element 0 of a tuple, or the only
        entry of a dict).

    Returns
    -------
    OutputKind
        ``sigmoid`` (``torch.sigmoid``, ``nn.Sigmoid``, ``Tensor.sigmoid``, ``torch.special.expit``), ``softmax``
        (``torch.softmax``, ``F.softmax``, ``nn.Softmax``, ``Tensor.softmax``) or ``log_softmax`` (the same for
        log-softmax, ``nn.LogSoftmax``) with the softmax's axis; ``other`` when the graph shows another last
        operation; ``unknown`` when the graph cannot be read (an ``nn.Module`` that ``torch.fx`` cannot trace, a
        TorchScript module without an inlined graph).
    """
    while type(module).__name__ in _WRAPPERS and isinstance(getattr(module, "model", None), nn.Module):
        module = module.model
    if isinstance(module, torch.jit.ScriptModule):
        return _script_kind(module, output)
    if isinstance(module, fx.GraphModule):
        return _fx_kind(module, module.graph, output)
    try:
        traced = fx.symbolic_trace(module)
    except Exception:  # noqa: BLE001 - any tracing failure: the graph is not known, so nothing is claimed
        return OutputKind("unknown")
    return _fx_kind(traced, traced.graph, output)


def _picked(values: list, keys: list | None, output: int | str | None):
    """The element of an output structure's values named by ``output`` (``None`` where it does not exist)."""
    if keys is not None:  # a dict
        if output is None:
            return values[0] if len(values) == 1 else None
        return values[keys.index(output)] if output in keys else None
    index = 0 if output is None else output
    if isinstance(index, str) or not -len(values) <= index < len(values):
        return None
    return values[index]


def _script_kind(module: torch.jit.ScriptModule, output: int | str | None) -> OutputKind:
    try:
        graph = module.inlined_graph
    except Exception:  # noqa: BLE001 - a scripted function or an unusual module: no graph to read
        return OutputKind("unknown")
    try:  # fold the branches on arguments known when scripted (F.softmax's `dim is None`) into their constants
        torch._C._jit_pass_constant_propagation(graph)  # on this copy of the graph: the module is not changed
    except Exception:  # noqa: BLE001 - a torch without the pass: the branches are read as they are
        pass
    value = next(iter(graph.return_node().inputs()))
    node = value.node()
    if node.kind() in _CONSTRUCTS and _built_items(node) is None:  # changed after it was built
        return OutputKind("other")
    if node.kind() == "prim::TupleConstruct" or node.kind() == "prim::ListConstruct":
        value = _picked(list(node.inputs()), None, output)
    elif node.kind() == "prim::DictConstruct":
        items = list(node.inputs())
        keys = [key.toIValue() for key in items[0::2]]
        value = _picked(items[1::2], keys, output)
    return OutputKind("other") if value is None else _script_value_kind(value)


_SCRIPT_TAKES = frozenset({"prim::TupleUnpack", "prim::ListUnpack", "prim::TupleIndex", "aten::__getitem__",
                           "prim::DictIndex"})
_CONSTRUCTS = frozenset({"prim::TupleConstruct", "prim::ListConstruct", "prim::DictConstruct"})
# what may use a list or dict without changing it (review30: out[0] = r, d.update, insert, pop, reverse changed
# the items a built container was read as holding)
_SCRIPT_READS = _SCRIPT_TAKES | _CONSTRUCTS | _SCRIPT_JOINS | {"prim::Return", "aten::len"}
_UNRESOLVED = object()


def _built_items(node) -> list | None:
    """The items a ``prim::*Construct`` node built, or ``None`` when the list or dict may be changed after it is
    built (any use that is not a read): its items are then not known from the graph."""
    if node.kind() != "prim::TupleConstruct" and any(use.user.kind() not in _SCRIPT_READS
                                                     for use in node.output().uses()):
        return None
    return list(node.inputs())


def _script_element(container, position):
    """The value at ``position`` (an index, or a dict's key) of a TorchScript tuple, list or dict value built in the
    graph (through values taken out of other containers: a wrapper's ``r, c = self.m(x)`` once inlined);
    :data:`_UNRESOLVED` for a container the graph does not build (e.g. ``chunk``'s list), ``None`` for a position
    it does not hold."""
    node = container.node()
    if node.kind() not in _CONSTRUCTS:
        taken = _script_taken(container)
        return _UNRESOLVED if taken is container or taken is None else _script_element(taken, position)
    items = _built_items(node)
    if items is None:
        return None
    if node.kind() == "prim::DictConstruct":
        keys = [key.toIValue() for key in items[0::2]]
        return items[1::2][keys.index(position)] if position in keys else None
    if isinstance(position, int) and not isinstance(position, bool) and -len(items) <= position < len(items):
        return items[position]
    return None


def _script_taken(value):
    """The value a tuple/list/dict item names (``prim::TupleUnpack``, ``TupleIndex``, ``__getitem__`` ...) when
    its container is built in the graph; ``value`` itself otherwise; ``None`` for an item the container lacks.
    fresh30: a scripted wrapper's ``r, c = self.m(x); return {"cls": c}`` read as ``other`` (``TupleIndex`` was
    followed to the tuple, not to its item), so a sigmoid head was explained as a probability without a word."""
    node = value.node()
    if node.kind() not in _SCRIPT_TAKES or next(iter(node.inputs()), None) is None:
        return value
    if node.kind() in ("prim::TupleUnpack", "prim::ListUnpack"):
        position = list(node.outputs()).index(value)
    elif len(list(node.inputs())) > 1:
        position = node.inputsAt(1).toIValue()
    else:
        return value
    found = _script_element(node.inputsAt(0), position)
    return value if found is _UNRESOLVED else found


def _script_value_kind(value) -> OutputKind:
    """The kind of a TorchScript value: the operation that made it, through shape operations, items taken out of
    tuples, lists and dicts the graph builds, and ``if`` branches."""
    moved, node = False, value.node()
    while True:
        taken = _script_taken(value)
        if taken is None:
            return OutputKind("other")
        if taken is not value:
            value, node = taken, taken.node()
            continue
        if node.kind() not in _SCRIPT_SHAPE_OPS or next(iter(node.inputs()), None) is None:
            break
        moved = moved or node.kind() not in _SCRIPT_KEEP_AXES
        value = next(iter(node.inputs()))
        node = value.node()
    if node.kind() == "prim::If":  # e.g. F.log_softmax: one branch per dtype; every branch must give the same kind
        index = list(node.outputs()).index(value)
        kinds = {_script_value_kind(list(block.returnNode().inputs())[index]) for block in node.blocks()}
        found = kinds.pop() if len(kinds) == 1 else OutputKind("other")
        return OutputKind(found.kind, None) if moved else found
    if node.kind() in _SCRIPT_JOINS and node.inputsAt(0).node().kind() == "prim::ListConstruct":
        axis = _JOIN_AXES.get(node.kind().split("::")[1])
        dim = axis if axis is not None else node.inputsAt(1).toIValue() if len(list(node.inputs())) > 1 else 0
        return _joined([_script_value_kind(part) for part in node.inputsAt(0).node().inputs()], dim, moved)
    kind = _SCRIPT_KINDS.get(node.kind(), "other")
    if kind in ("softmax", "log_softmax"):
        dim = list(node.inputs())[1].toIValue() if len(list(node.inputs())) > 1 else None
        return OutputKind(kind, None if moved or not isinstance(dim, int) else dim)
    return OutputKind(kind)


def _fx_activation(module: nn.Module, node: fx.Node) -> OutputKind:
    """The kind of the operation of an fx node, with a softmax's axis (``other`` for any other operation)."""
    kind, dim = "other", None
    if node.op == "call_function":
        kind = _FUNCTION_KINDS.get(getattr(node.target, "__name__", "").split(".")[0], "other")
        if node.target in (torch.sigmoid, nn.functional.sigmoid):
            kind = "sigmoid"
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    elif node.op == "call_method":
        kind = _FUNCTION_KINDS.get(node.target, "other")
        dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
    elif node.op == "call_module":
        submodule = module.get_submodule(node.target)
        kind = next((name for cls, name in _MODULE_KINDS if isinstance(submodule, cls)), "other")
        dim = getattr(submodule, "dim", None)
    if kind in ("softmax", "log_softmax"):
        return OutputKind(kind, dim if isinstance(dim, int) else None)
    return OutputKind(kind)


def _fx_shape_only(module: nn.Module, node: fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in _SHAPE_METHODS
    if node.op == "call_function":  # operator.getitem: indexing a tensor, or taking an item of chunk/split
        name = getattr(node.target, "__name__", "").split(".")[0]
        return node.target in (torch.squeeze, torch.unsqueeze, torch.reshape, torch.flatten, operator.getitem) or \
            name in _SHAPE_FUNCTIONS
    if node.op == "call_module":
        return isinstance(module.get_submodule(node.target), nn.Flatten)
    return False


def _fx_kind(module: nn.Module, graph: fx.Graph, output: int | str | None) -> OutputKind:
    result = next(node for node in graph.nodes if node.op == "output").args[0]
    if isinstance(result, dict):
        result = _picked(list(result.values()), list(result.keys()), output)
    elif isinstance(result, (tuple, list)):
        result = _picked(list(result), None, output)
    return _fx_node_kind(module, result)


def _fx_node_kind(module: nn.Module, result) -> OutputKind:
    """The kind of an fx value: the operation that made it, through shape operations and ``cat``/``stack``."""
    if not isinstance(result, fx.Node):
        return OutputKind("other")
    moved = False
    while _fx_shape_only(module, result) and result.args and isinstance(result.args[0], fx.Node):
        name = result.target if result.op == "call_method" else getattr(result.target, "__name__", "")
        moved = moved or name.split(".")[0] not in _KEEP_AXES
        result = result.args[0]
    name = getattr(result.target, "__name__", "") if result.op == "call_function" else ""
    parts = result.args[0] if result.args else result.kwargs.get("tensors")  # torch.cat(tensors=[...]) (review25)
    if name in _JOINS and isinstance(parts, (list, tuple)):
        dim = _JOIN_AXES.get(name, result.kwargs.get("dim", result.args[1] if len(result.args) > 1 else 0))
        return _joined([_fx_node_kind(module, part) for part in parts], dim, moved)
    found = _fx_activation(module, result)
    return OutputKind(found.kind, None) if moved else found


def _joined(parts: list[OutputKind], dim, moved: bool) -> OutputKind:
    """The kind of a ``torch.cat``/``stack`` of ``parts`` along ``dim``: a sigmoid where every part is one,
    ``other`` where none is a probability, else ``joined`` (each part's kind; the axis unless shape operations
    after the join moved it)."""
    if parts and all(part.kind == "sigmoid" for part in parts):
        return OutputKind("sigmoid")
    if not any(part.probability or part.kind in ("joined", "unknown") for part in parts):
        return OutputKind("other")
    return OutputKind("joined", None if moved or not isinstance(dim, int) else dim, tuple(parts))


def joined_part(found: OutputKind, task: int | str | None, shape: tuple[int, ...] | None) -> OutputKind | None:
    """The kind of the part of a ``joined`` output (:class:`OutputKind`) that task ``task`` reads, or None when
    that is not known: known for an ``(N, T)`` output joined along axis 1 from ``T`` parts (each then one column:
    a ``stack``, or a ``cat`` of ``(N, 1)`` parts), task given as an index (``None``: 0)."""
    task = 0 if task is None else task
    if shape is None or len(shape) != 2 or found.dim is None or found.dim % 2 != 1 or isinstance(task, str):
        return None
    if len(found.parts) != shape[1] or not -shape[1] <= task < shape[1]:
        return None
    part = found.parts[task]
    return OutputKind(part.kind, None) if part.kind in ("softmax", "log_softmax") else part
