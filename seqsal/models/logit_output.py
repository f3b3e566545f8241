"""The logit of a sigmoid inside a model, taken from the sigmoid's input, not inverted from its float32 output.

A model that applies its sigmoid inside ``forward`` returns ``p = sigmoid(z)`` in float32, and ``log(p / (1 - p))``
of that ``p`` loses the logit's precision as ``p -> 1``: ``1 - p`` keeps only the bits of ``p`` below 1 (float32
spacing ``6e-8`` there), so at ``z = 12`` the logit is off by up to ``1e-2``, at ``z = 15`` by ``0.3`` (fresh26a:
ISM maps of a confident model correlated 0.73 with the true logit's). Gradients are not affected (``d logit(p) =
dz`` cancels), but every value is: ISM deltas, predictions, integrated gradients' completeness.

:func:`exact_logit` rewrites such a model's graph (``torch.fx``) so that the selected output is the sigmoid's
input itself (shape operations after it kept), and marks the target so that it is not transformed again. A
softmax's class picked by indexing (``softmax(z, dim)[:, k]``, explained as its logit) becomes that class's
log-odds ``z_k - logsumexp_{j != k} z_j`` computed from ``z``. A TorchScript model's inlined graph is rewritten
the same way (sigmoids only) and run as a function of the module (:class:`ScriptLogit`); ``cat``/``stack`` parts
are rewritten each. Where the graph cannot be rewritten (a module ``torch.fx`` cannot trace, a shape operation
whose value is also used elsewhere, an in-place sigmoid, a TorchScript softmax), the model is left as it is and
:meth:`seqsal.attribution.Target.select` warns once where its probabilities are too close to 1 for their logit.
"""
from __future__ import annotations

import copy
import logging
import warnings
import weakref
from dataclasses import replace
from typing import Any

import torch
from torch import fx, nn

from .fingerprint import model_fingerprint
from .outputs import (_JOINS, _SCRIPT_JOINS, _SCRIPT_SHAPE_OPS, _WRAPPERS, _fx_activation, _fx_node_kind,
                      _fx_shape_only, _picked, _script_value_kind)

log = logging.getLogger("seqsal")
_REWRITTEN_KINDS = ("sigmoid", "softmax", "log_softmax", "joined")  # parts of a cat/stack that must be rewritten
_REWRITTEN: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()
_WRITTEN: "weakref.WeakKeyDictionary[nn.Module, weakref.ref]" = weakref.WeakKeyDictionary()  # rewrite -> model


def class_log_odds(z: torch.Tensor, dim: int) -> torch.Tensor:
    """Each class's log-odds against the other classes along ``dim``: ``z_k - logsumexp_{j != k} z_j``.

    Parameters
    ----------
    z
        Logits (the input of a softmax over ``dim``).
    dim
        The class axis.

    Returns
    -------
    torch.Tensor
        Of ``z``'s shape: ``log(p_k / (1 - p_k))`` of ``p = softmax(z, dim)``, without ``p``'s rounding.
    """
    moved = z.movedim(dim, -1)
    # row k of others: z with -inf at k (tensor operations only, so that torch.fx can trace the rewritten model)
    others = moved.unsqueeze(-2) + torch.diag_embed(torch.full_like(moved, float("-inf")))
    return (moved - torch.logsumexp(others, dim=-1)).movedim(-1, dim)


def exact_logit(module: nn.Module, target: Any) -> tuple[nn.Module, Any]:
    """The model and target that give ``target``'s logit from the sigmoid's input (the value before it).

    Parameters
    ----------
    module
        The model as seqsal runs it (possibly inside seqsal's layout or fixed-batch wrapper).
    target
        The resolved :class:`seqsal.attribution.Target` (not imported: the models layer is below it); only
        ``transform=logit`` (not yet taken from the model) is rewritten.

    Returns
    -------
    tuple
        ``(module, target)``: a rewritten copy of the model (sharing its parameters and submodules) whose selected
        output is the sigmoid's input (or the selected softmax class's log-odds), with the target marked
        ``model_logit`` so that it is not transformed again; or the arguments as they are where the transform is
        not ``logit`` or the graph cannot be rewritten.
    """
    if target.transform != "logit" or target.model_logit:
        return module, target
    try:
        cache = _REWRITTEN.setdefault(module, {})
    except TypeError:  # a module that cannot be weakly referenced: rewritten each time
        cache = {}
    # what a trace bakes into the rewritten graph (Python attributes read in forward, hooks, submodules, the
    # training flag of F.dropout(training=self.training)) as well as the tensors it refers to (review27)
    state = (model_fingerprint(module), tuple((id(value), value.device)
                                              for value in module.state_dict(keep_vars=True).values()))
    if cache.get(target.output, (None,))[0] != state:
        training = module.training
        try:
            module.eval()  # seqsal runs models in eval mode: trace the graph it runs (review27)
        except (AttributeError, NotImplementedError):  # fresh27c: torch.export's module has no eval(): a traceback
            training = None
        try:
            rewritten = _rewritten(module, target.output)
        finally:
            if training is not None:
                module.train(training)
        cache[target.output] = (state, rewritten)
    rewritten = cache[target.output][1]
    if rewritten is None:
        return module, target
    try:
        _WRITTEN[rewritten] = weakref.ref(module)
    except TypeError:  # not weakly referable: no way back (written_model gives None)
        pass
    return rewritten, replace(target, model_logit=True)


def written_model(module: nn.Module) -> nn.Module | None:
    """The model as written that :func:`exact_logit` rewrote into ``module``; ``None`` for any other module (Grad-CAM
    reads a user's named block there, which the rewrite's trace inlined: review27)."""
    reference = _WRITTEN.get(module) if isinstance(module, nn.Module) else None
    return reference() if reference is not None else None


def _rewritten(module: nn.Module, output: int | str | None) -> nn.Module | None:
    inner = module
    while type(inner).__name__ in _WRAPPERS and isinstance(getattr(inner, "model", None), nn.Module):
        inner = inner.model
    try:
        if isinstance(inner, torch.jit.ScriptModule):
            return _script_rewritten(module, inner, output)
        if isinstance(inner, fx.GraphModule):
            traced = _copied(inner)
        else:
            traced = fx.symbolic_trace(inner)
        if not _rewrite_graph(traced, output):
            return None
        traced.recompile()
    except Exception:  # noqa: BLE001 - any failure to trace or rewrite: the model is explained as it is
        return None
    return _wrapped(module, traced)


def _copied(module: fx.GraphModule) -> fx.GraphModule:
    """A graph module with a copy of ``module``'s graph (sharing its parameters and submodules)."""
    with warnings.catch_warnings():  # torch's pytree output spec warns of its own deprecations when copied
        warnings.simplefilter("ignore")
        return fx.GraphModule(module, copy.deepcopy(module.graph))


def _wrapped(module: nn.Module, traced: nn.Module) -> nn.Module:
    """``traced`` inside a shallow copy of each of seqsal's wrappers around the model ``module``."""
    wrappers = []
    while type(module).__name__ in _WRAPPERS and isinstance(getattr(module, "model", None), nn.Module):
        wrappers.append(module)
        module = module.model
    for wrapper in reversed(wrappers):  # a shallow copy of each wrapper around the rewritten model
        outer = copy.copy(wrapper)
        outer._modules = dict(wrapper._modules)
        outer.model = traced
        traced = outer
    return traced


class ScriptLogit(nn.Module):
    """A TorchScript model whose ``forward`` graph was rewritten (the sigmoid before the selected output left out).

    Parameters
    ----------
    model
        The TorchScript module (its parameters and submodules are used as they are; referred to weakly).
    function
        The rewritten graph as a function of ``(module, x)``.
    output
        The selected output (:attr:`seqsal.attribution.Target.output`).
    """

    def __init__(self, model: torch.jit.ScriptModule, function, output: int | str | None = None):
        super().__init__()
        self._script = weakref.ref(model)  # not held: the rewrite is cached while the model lives
        self.function = function
        self.output = output

    @property
    def model(self) -> torch.jit.ScriptModule:
        """The TorchScript module."""
        return self._script()

    def fx_rewrite(self, converted: fx.GraphModule | None) -> fx.GraphModule | None:
        """The model's ``torch.fx`` graph (converted from TorchScript, for the ISM fast path) rewritten as
        ``forward`` is; ``None`` where it cannot be (the fast path is then not taken)."""
        if converted is None:
            return None
        try:
            rewritten = _copied(converted)
            if not _rewrite_graph(rewritten, self.output):
                return None
            rewritten.recompile()
        except Exception:  # noqa: BLE001 - a graph that cannot be rewritten: no fast path
            return None
        return rewritten

    def forward(self, x: torch.Tensor):
        """The model's output with the selected sigmoid's input in place of its probability."""
        return self.function(self.model._c, x)


def _script_rewritten(module: nn.Module, inner: torch.jit.ScriptModule, output: int | str | None) -> nn.Module | None:
    """The TorchScript model ``inner`` with the sigmoid that makes the selected output left out (``None``: none)."""
    graph = inner.inlined_graph.copy()
    if len(list(graph.inputs())) != 2:  # forward(self, x) only
        return None
    holder = graph.return_node()
    value = next(iter(holder.inputs()))
    node = value.node()
    if node.kind() in ("prim::TupleConstruct", "prim::ListConstruct"):
        holder, value = node, _picked(list(node.inputs()), None, output)
    elif node.kind() == "prim::DictConstruct":
        items = list(node.inputs())
        holder, value = node, _picked(items[1::2], [key.toIValue() for key in items[0::2]], output)
    if value is None:
        return None
    if not _rewrite_script(value, holder):
        return None
    function = torch._C._create_function_from_graph("forward", graph)
    return _wrapped(module, ScriptLogit(inner, function, output))


def _rewrite_script(value, holder) -> bool:
    """Replace, in ``holder``'s inputs, the TorchScript ``value`` made by a sigmoid (through shape operations and
    ``cat``/``stack``, each of whose probability parts is rewritten) by the sigmoid's input."""
    node = value.node()
    while node.kind() in _SCRIPT_SHAPE_OPS and next(iter(node.inputs()), None) is not None:
        if len(value.uses()) != 1:  # a shape operation whose value is also used elsewhere: not rewritten
            return False
        holder, value = node, next(iter(node.inputs()))
        node = value.node()
    if node.kind() in _SCRIPT_JOINS and node.inputsAt(0).node().kind() == "prim::ListConstruct":
        parts = node.inputsAt(0).node()
        if len(value.uses()) != 1 or len(parts.output().uses()) != 1:
            return False
        if any(_script_value_kind(part).kind not in _REWRITTEN_KINDS for part in parts.inputs()):
            return False  # review27: see _rewrite_fx
        return all(_rewrite_script(part, parts) for part in list(parts.inputs()))
    if node.kind() not in ("aten::sigmoid", "aten::special_expit"):  # a softmax: no graph op for its log-odds here
        return False
    holder.replaceInputWith(value, next(iter(node.inputs())))
    return True


def _rewrite_graph(module: fx.GraphModule, output: int | str | None) -> bool:
    """Replace the sigmoid (softmax) that makes the selected output by its input (its classes' log-odds)."""
    out = next(node for node in module.graph.nodes if node.op == "output")
    result = out.args[0]
    if isinstance(result, dict):
        result = _picked(list(result.values()), list(result.keys()), output)
    elif isinstance(result, (tuple, list)):
        result = _picked(list(result), None, output)
    if not isinstance(result, fx.Node) or not _rewrite_fx(module, result, out):
        return False
    module.graph.lint()
    return True


def _rewrite_fx(module: fx.GraphModule, result: fx.Node, user: fx.Node) -> bool:
    """Replace, in ``user``'s inputs, the fx value ``result`` made by a sigmoid (softmax), through shape operations
    and ``cat``/``stack`` (each of whose probability parts is rewritten), by its input (its classes' log-odds)."""
    while _fx_shape_only(module, result) and result.args and isinstance(result.args[0], fx.Node):
        if len(result.users) != 1:  # a shape operation whose value is also used elsewhere: not rewritten
            return False
        user, result = result, result.args[0]
    name = result.target if result.op == "call_method" else getattr(result.target, "__name__", "")
    parts = result.args[0] if result.args else result.kwargs.get("tensors")
    if result.op == "call_function" and name in _JOINS and isinstance(parts, (list, tuple)):
        if len(result.users) != 1:
            return False
        kinds = [_fx_node_kind(module, part).kind if isinstance(part, fx.Node) else "other" for part in parts]
        if any(kind not in _REWRITTEN_KINDS for kind in kinds):  # review27: a part left as it is would be read as
            return False  # a logit (model_logit) by a task that selects it: its probability explained as the logit
        return all(_rewrite_fx(module, part, result) for part in parts)
    kind = _fx_activation(module, result)
    in_place = result.op != "call_module" and str(name).split(".")[0].endswith("_")
    if in_place or not result.args or not isinstance(result.args[0], fx.Node):
        return False  # an in-place activation, or one without a tensor argument
    value = result.args[0]
    if kind.kind == "softmax":
        if kind.dim is None:
            return False
        with module.graph.inserting_after(result):
            value = module.graph.call_function(class_log_odds, (value, kind.dim))
    elif kind.kind != "sigmoid":
        return False
    user.replace_input_with(result, value)
    return True


_IMPRECISE_ONE = 1e-4  # 1 - p below this: float32 keeps under 11 bits of 1 - p (logit error ~1e-3 or more)
_WARNED: set = set()


def warn_imprecise_logit(value: torch.Tensor) -> None:
    """One log line (per process) where a probability is too close to 1 for its logit to be taken from it.

    Parameters
    ----------
    value
        The probabilities whose logit :meth:`seqsal.attribution.Target.select` takes (float32 or lower).
    """
    if "logit" in _WARNED or value.dtype == torch.float64:
        return
    close = (1 - value.detach().double()) < _IMPRECISE_ONE
    if bool(close.any()):
        _WARNED.add("logit")
        worst = float(value.detach()[close].max())
        log.warning("target: the logit log(p / (1 - p)) is taken from the model's %s probability %.9g, whose "
                    "1 - p keeps too few bits: logits above ~9 (and the ISM deltas, predictions and integrated "
                    "gradients' sums made of them) are off by 1e-3 or more (gradients are exact); the model's "
                    "graph cannot be rewritten to give the sigmoid's input, so return the logit from the model "
                    "(its sigmoid left out) and explain that", str(value.dtype).replace("torch.", ""), worst)
