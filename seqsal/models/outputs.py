"""Whether a model's output is a probability: the last operation before it is a sigmoid.

A classifier that applies its sigmoid inside ``forward`` (Basset and many user models; a TorchScript or exported
file then holds no logit at all) returns ``p = sigmoid(z)``. Explaining ``p`` hides features where the model is
most confident: ``dp/dx = p (1 - p) dz/dx`` vanishes as ``p`` saturates, so an active region's attributions shrink
against an inactive region's (the calibration zoo's ``sigmoid_A``, benchmarks/RESULTS.md, issue 13). DeepLIFT's
authors explain the pre-sigmoid logit for this reason (Shrikumar, Greenside & Kundaje, ICML 2017, section 3.6),
and so does seqsal by default: :func:`sigmoid_output` finds the sigmoid in the model's graph, and the pipeline
then explains ``log(p / (1 - p))`` (``--target ...,transform=logit``), whose gradient is ``dz/dx`` exactly.

The graph is read, never guessed from output values (a regression model can return values in ``(0, 1)``):

* TorchScript: the inlined graph of ``forward`` (submodule calls included);
* ``torch.export`` programs (their module is an ``fx.GraphModule``) and other graph modules: their graph;
* any other ``nn.Module``: a ``torch.fx`` symbolic trace; a model that cannot be traced (data-dependent
  control flow) is reported as not known to end in a sigmoid (``False``).

Operations that only change the shape or select elements (``squeeze``, ``view``, ``reshape``, ``flatten``,
indexing and slicing, ``select``, ``narrow``, ``permute``, ``transpose``, ``chunk``/``split``/``unbind`` and their
items, ...) between the sigmoid and the output are looked through: ``sigmoid(z)[:, 0]`` and
``sigmoid(z).squeeze(-1)`` are still probabilities.
"""
from __future__ import annotations

import operator

import torch
from torch import fx, nn

_SCRIPT_SIGMOIDS = frozenset({"aten::sigmoid", "aten::sigmoid_", "aten::special_expit"})
_SCRIPT_SHAPE_OPS = frozenset({"aten::squeeze", "aten::squeeze_", "aten::unsqueeze", "aten::view", "aten::reshape",
                               "aten::flatten", "aten::contiguous", "aten::clone", "aten::to",
                               # selections: each output value is one of the input's
                               "aten::slice", "aten::select", "aten::narrow", "aten::index", "aten::index_select",
                               "aten::permute", "aten::transpose", "aten::t", "aten::movedim", "aten::expand",
                               "aten::chunk", "aten::split", "aten::unbind", "aten::__getitem__",
                               "prim::ListUnpack", "prim::ConstantChunk", "prim::TupleIndex"})
_SHAPE_METHODS = frozenset({"squeeze", "unsqueeze", "view", "reshape", "flatten", "contiguous", "clone",
                            "select", "narrow", "index_select", "permute", "transpose", "t", "movedim", "expand",
                            "chunk", "split", "unbind", "__getitem__"})
_SHAPE_FUNCTIONS = frozenset({"squeeze", "unsqueeze", "view", "reshape", "flatten", "clone", "_unsafe_view",
                              "select", "narrow", "index_select", "permute", "transpose", "t", "movedim", "expand",
                              "chunk", "split", "unbind", "slice", "getitem", "index"})
_WRAPPERS = ("ChannelsLast", "FixedBatch")  # seqsal's own transparent wrappers (seqsal.models.user): look inside


def sigmoid_output(module: nn.Module, output: int | str | None = None) -> bool | None:
    """Whether the selected output of ``module`` is the value of a sigmoid (a probability).

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
    bool or None
        ``True`` when the graph shows a sigmoid (``torch.sigmoid``, ``nn.Sigmoid``, ``Tensor.sigmoid``,
        ``torch.special.expit``) as the last operation before that output, shape-only operations and selections
        aside; ``False`` when the graph shows another; ``None`` when the graph cannot be read (an ``nn.Module``
        that ``torch.fx`` cannot trace, a TorchScript module without an inlined graph).
    """
    while type(module).__name__ in _WRAPPERS and isinstance(getattr(module, "model", None), nn.Module):
        module = module.model
    if isinstance(module, torch.jit.ScriptModule):
        return _script_sigmoid(module, output)
    if isinstance(module, fx.GraphModule):
        return _fx_sigmoid(module, module.graph, output)
    try:
        traced = fx.symbolic_trace(module)
    except Exception:  # noqa: BLE001 - any tracing failure: the graph is not known, so no sigmoid is claimed
        return None
    return _fx_sigmoid(traced, traced.graph, output)


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


def _script_sigmoid(module: torch.jit.ScriptModule, output: int | str | None) -> bool | None:
    try:
        graph = module.inlined_graph
    except Exception:  # noqa: BLE001 - a scripted function or an unusual module: no graph to read
        return None
    value = next(iter(graph.return_node().inputs()))
    node = value.node()
    if node.kind() == "prim::TupleConstruct" or node.kind() == "prim::ListConstruct":
        value = _picked(list(node.inputs()), None, output)
    elif node.kind() == "prim::DictConstruct":
        items = list(node.inputs())
        keys = [key.toIValue() for key in items[0::2]]
        value = _picked(items[1::2], keys, output)
    if value is None:
        return False
    node = value.node()
    while node.kind() in _SCRIPT_SHAPE_OPS and next(iter(node.inputs()), None) is not None:
        node = next(iter(node.inputs())).node()
    return node.kind() in _SCRIPT_SIGMOIDS


def _fx_is_sigmoid(module: nn.Module, node: fx.Node) -> bool:
    if node.op == "call_function":
        return node.target in (torch.sigmoid, torch.special.expit, nn.functional.sigmoid) or \
            getattr(node.target, "__name__", "").split(".")[0] in ("sigmoid", "sigmoid_", "special_expit")
    if node.op == "call_method":
        return node.target in ("sigmoid", "sigmoid_")
    if node.op == "call_module":
        return isinstance(module.get_submodule(node.target), nn.Sigmoid)
    return False


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


def _fx_sigmoid(module: nn.Module, graph: fx.Graph, output: int | str | None) -> bool:
    result = next(node for node in graph.nodes if node.op == "output").args[0]
    if isinstance(result, dict):
        result = _picked(list(result.values()), list(result.keys()), output)
    elif isinstance(result, (tuple, list)):
        result = _picked(list(result), None, output)
    if not isinstance(result, fx.Node):
        return False
    while _fx_shape_only(module, result) and result.args and isinstance(result.args[0], fx.Node):
        result = result.args[0]
    return _fx_is_sigmoid(module, result)
