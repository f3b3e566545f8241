"""DeepLIFT and DeepSHAP (rescale rule), as a rules engine over the model's own operations.

DeepLIFT (Shrikumar et al. 2017) explains ``f(x) - f(reference)`` with multipliers that replace each
nonlinearity's gradient by its secant ``Δy/Δx`` between the sequence and the reference; DeepSHAP (Lundberg & Lee
2017) averages over references. Rather than hooking modules (captum, tangermeme), a :class:`TorchFunctionMode`
intercepts every torch call of the forward pass, in each form it takes (functional ``torch.relu``, module
``nn.ReLU``, in-place ``h.relu_()``, the ATen overloads of a ``torch.export`` graph such as
``aten.relu.default``), and applies an allow-list (:mod:`.ops`):

* elementwise nonlinearities of one sequence-dependent tensor (ReLU, sigmoid, tanh, GELU, ``clamp_min(h, 0)``,
  ``maximum(h, 0)``, ...): the rescale rule (:class:`~.deeplift_rules.Rescale`); in-place forms write the result
  into their argument as the model expects;
* max pooling, adaptive max pooling and maxima over one dimension (global max pooling): the change of each window
  routed to the argmax of the larger of the pair (:class:`~.deeplift_rules.MaxPoolRule`, as captum and
  tangermeme), with a pooled-size backward for non-overlapping windows;
* linear operations (convolutions, linear layers, eval-mode batch norm and dropout, average pooling, sums,
  products and quotients with constants, reshaping and indexing): as they are;
* anything else that depends on the sequence (softmax, normalisation, comparisons such as ``h > 0`` feeding a
  ``where``, ``maximum(h, 0.1 * h)``, training-mode batch norm or dropout, operations seqsal does not know):
  :class:`UnsupportedLayer`, naming the operation and the layer, and pointing to ``--method ig`` or ``ism``.

For one-hot ``x`` the projected attributions sum to ``f(x) - mean f(references)`` (summation-to-delta);
:func:`deep_lift_shap` checks it and raises :class:`~.references.IncompleteAttribution` when it fails.

Each sequence runs once for all its references (:func:`shared_multipliers`): its activations do not depend on the
reference, only the multipliers do. The references then run without gradients (stacked reference-major), their
tensors are paired with the rules call by call, and one backward pass per reference through the one sequence pass
gives its multipliers, which the rules work out there from that reference's rows (tensors small enough to stay in
the CPU's cache).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..attribution import Target
from ..errors import InputError, option
from ..models.files import model_file
from .deeplift_rules import MaxPoolRule, Paired, Rescale, pooling_call
from .inputs import method_entry
from .ops import (
    BATCH_NORMS,
    DIVISIONS,
    DROPOUTS,
    ELEMENTWISE,
    LINEAR,
    MAX_POOLS,
    MAX_REDUCTIONS,
    METADATA,
    PRODUCTS,
    REASONS,
    argument,
    grad_tensors,
    is_inplace,
    op_label,
    op_name,
    out_of_place,
    tensor_slots,
    with_slot,
)
from .references import check_completeness, hypothetical_from_multipliers, relative_completeness, resolve_references



class UnsupportedLayer(InputError):
    """A model operation that DeepLIFT's rules do not cover."""


DEEPSHAP_ADVICE = "the model holds an operation whose DeepLIFT rule is missing or wrong; use --method ig or ism"
_MaxPoolRule = MaxPoolRule  # the name the tests of the max-pool rule import


@dataclass
class _Recorded:
    """What the reference pass keeps of one nonlinear call: its tensor arguments (by slot), output and argmax."""

    kind: str
    inputs: dict
    y: torch.Tensor
    index: torch.Tensor | None = None

    def tensors(self) -> list[torch.Tensor]:
        return [*self.inputs.values(), self.y, *([self.index] if self.index is not None else [])]


@dataclass
class _Pending:
    """A nonlinear call of the sequence pass: its kind, where it ran (for messages) and, if it depends on the
    sequence, the slot of its sequence-dependent argument, that argument's shape and the :class:`Paired` holder its
    rule reads the reference's tensors from."""

    kind: str
    label: str
    layer: str
    slot: int | str | None = None
    shape: tuple | None = None
    paired: Paired | None = None


def _kind(name: str, args: tuple, kwargs: dict) -> str | None:
    """``rescale``, ``pool`` (a max-pool rule) or ``None`` (linear, metadata or refused) for one call."""
    if name in MAX_REDUCTIONS:
        other = args[1] if len(args) > 1 else kwargs.get("other")
        return "rescale" if isinstance(other, torch.Tensor) else "pool"
    if name in MAX_POOLS:
        return "pool"
    if name in ELEMENTWISE:
        return "rescale"
    return None


def _linear_refusal(func, name: str, args: tuple, kwargs: dict) -> str | None:
    """Why a call of a :data:`LINEAR` operation is not linear in the sequence here, or ``None`` when it is."""
    if name in BATCH_NORMS and argument(func, args, kwargs, *BATCH_NORMS[name]):
        return "batch norm in training mode: batch statistics mix the windows of a batch; export the model in eval mode"
    if name in DROPOUTS and argument(func, args, kwargs, *DROPOUTS[name]):
        return "dropout in training mode is random; export the model in eval mode"
    if name in PRODUCTS and len(grad_tensors(list(args[PRODUCTS[name]:]) + list(kwargs.values()))) > 1:
        return "a product of two tensors that both depend on the sequence"
    if name in DIVISIONS:
        position = DIVISIONS[name]
        denominator = kwargs.get("other", args[position] if len(args) > position else None)
        if isinstance(denominator, torch.Tensor) and denominator.requires_grad:
            return "a division by a tensor that depends on the sequence"
    return None


def _multipliers(total: torch.Tensor, leaf: torch.Tensor, retain: bool) -> torch.Tensor:
    """The gradient of ``total`` with respect to ``leaf`` under the DeepLIFT rules; a model that writes in place
    into a tensor the backward pass still needs is refused in one line (review26: ``h += F.gelu(conv(h))`` raised
    autograd's RuntimeError through the API, and the CLI blamed the region's length)."""
    try:
        return torch.autograd.grad(total, leaf, retain_graph=retain)[0]
    except RuntimeError as error:
        if "modified by an inplace operation" not in str(error):
            raise
        raise InputError("deepshap cannot explain this model: its forward changes a tensor in place after a "
                         "layer has used it (e.g. h += f(h)); write that step out of place (h = h + f(h)), or "
                         f"explain it with {option('method', 'ism')}") from None


class _DeepLiftMode(TorchFunctionMode):
    """Intercepts the model's operations: records a reference's arguments and outputs at every nonlinearity
    (``record``), or applies the DeepLIFT rules to the sequence pass, noting each nonlinear call (:class:`_Pending`)
    so that every reference's pass can be paired with it call by call (:func:`_pair`).

    In the sequence pass the sequence-dependent tensors are those that require grad (the parameters are frozen):
    a call that takes one must be on the allow-list of :mod:`.ops` (linear, or a rule), or it is refused.
    """

    def __init__(self, record: bool, saved: list, where: list[str]):
        super().__init__()
        self.record, self.saved, self.where = record, saved, where

    def _layer(self) -> str:
        return self.where[-1] if self.where else "the model's forward"

    def _fail(self, func, why: str):
        raise UnsupportedLayer(f"deepshap cannot handle {op_label(func)} in layer {self._layer()!r} ({why}); use "
                               "--method ig or ism for this model")

    def _note(self, func, kind: str, slot=None, x: torch.Tensor | None = None) -> Paired | None:
        """Note a nonlinear call of the sequence pass; the holder its rule reads (``None`` if ``x`` is ``None``)."""
        paired = None if x is None else Paired()
        self.saved.append(_Pending(kind, op_label(func), self._layer(), slot, None if x is None else tuple(x.shape),
                                   paired))
        return paired

    def _protect(self, target) -> None:
        """Before an in-place write into ``target`` (reference pass): copy the recorded tensors that share its
        memory, so that they keep the values the rules need."""
        if not isinstance(target, torch.Tensor):
            return
        pointer = target.untyped_storage().data_ptr()
        for item in self.saved:
            if any(t.untyped_storage().data_ptr() == pointer for t in item.tensors()):
                item.inputs = {slot: t.clone() for slot, t in item.inputs.items()}
                item.y = item.y.clone()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = op_name(func)
        if name in METADATA:
            return func(*args, **kwargs)
        kind = _kind(name, args, kwargs)
        if self.record:
            if is_inplace(func, args, kwargs) and args:
                self._protect(args[0])
            return self._record(func, name, kind, args, kwargs)
        if kind == "pool":
            return self._pool(func, name, args, kwargs)
        if kind == "rescale":
            return self._rescale(func, name, args, kwargs)
        if not grad_tensors(list(args) + list(kwargs.values())):
            return func(*args, **kwargs)  # nothing here depends on the sequence
        if name not in LINEAR:
            self._fail(func, REASONS.get(name, "not an operation whose DeepLIFT rule seqsal knows"))
        refusal = _linear_refusal(func, name, args, kwargs)
        if refusal is not None:
            self._fail(func, refusal)
        return func(*args, **kwargs)

    def _record(self, func, name: str, kind: str | None, args: tuple, kwargs: dict):
        if kind == "pool":
            pooling = pooling_call(func, name, args, kwargs)
            if isinstance(pooling, str):  # refused in the sequence pass (if it depends on the sequence)
                self.saved.append(_Recorded("pool", {}, torch.empty(0)))
                return func(*args, **kwargs)
            x = pooling.before(args[0])
            y, index = pooling.pool(x)
            self.saved.append(_Recorded("pool", {0: x}, y, index))
            return pooling.finish(y, index)
        if kind == "rescale":
            values = {slot: args[slot] if isinstance(slot, int) else kwargs[slot] for slot in tensor_slots(args, kwargs)}
            if is_inplace(func, args, kwargs):
                values[0] = args[0].clone()
            y = func(*args, **kwargs)
            self.saved.append(_Recorded("rescale", values, y))
            return y
        return func(*args, **kwargs)

    def _pool(self, func, name: str, args: tuple, kwargs: dict):
        pooling = pooling_call(func, name, args, kwargs)
        if not (isinstance(args[0], torch.Tensor) and args[0].requires_grad):
            self._note(func, "pool")
            return func(*args, **kwargs)
        if isinstance(pooling, str):
            self._fail(func, pooling)
        x = pooling.before(args[0])
        y = MaxPoolRule.apply(x, self._note(func, "pool", 0, x), pooling.pool, pooling.disjoint)
        return pooling.finish(y, pooling.pool(x.detach())[1] if pooling.wants_indices else None)

    def _rescale(self, func, name: str, args: tuple, kwargs: dict):
        slots = tensor_slots(args, kwargs)
        values = {slot: args[slot] if isinstance(slot, int) else kwargs[slot] for slot in slots}
        dependent = [slot for slot in slots if values[slot].requires_grad]
        if not dependent:
            self._note(func, "rescale")
            return func(*args, **kwargs)
        if len(dependent) > 1:
            self._fail(func, "a function of two tensors that both depend on the sequence: no rescale rule; "
                             "write max(h, a * h) as leaky_relu(h, a)")
        slot = dependent[0]
        x = values[slot]
        inplace = is_inplace(func, args, kwargs)
        if inplace and slot != 0:
            self._fail(func, _NOT_SHAPED)
        compute = out_of_place(func, args, kwargs)

        def function(t: torch.Tensor) -> torch.Tensor:
            return compute(*with_slot(args, kwargs, slot, t))

        y = Rescale.apply(x, self._note(func, "rescale", slot, x), function, name in ("relu", "relu_"))
        if inplace:  # the model may go on with the tensor it wrote into, not the returned one
            x.copy_(y)
            return x
        return y


_NOT_SHAPED = "an elementwise function whose output is not shaped like its sequence-dependent input"
_DIFFERENTLY = "the model ran differently on the references"


def _pair(pending: list[_Pending], recorded: list[_Recorded], part: int = 0, parts: int = 1) -> None:
    """Fill each rule's :class:`Paired` holder with one reference's tensors, call by call.

    ``recorded`` may hold ``parts`` references' passes stacked reference-major (``(parts * k, ...)``, row
    ``q k + i`` is reference ``q`` of sequence ``i``): the holders get rows ``part * k`` to ``(part + 1) * k``.

    Raises
    ------
    UnsupportedLayer
        When the reference's pass made other nonlinear calls than the sequence's, or tensors of other shapes.
    """
    if len(recorded) != len(pending):
        raise UnsupportedLayer("deepshap: the model ran differently on the sequences and the references")
    for call, item in zip(pending, recorded):
        why = _DIFFERENTLY if call.kind != item.kind else None
        x_ref = item.inputs.get(call.slot) if why is None and call.paired is not None else None
        if why is None and call.paired is not None:
            k = call.shape[0]
            if x_ref is None or tuple(x_ref.shape) != (parts * k, *call.shape[1:]):
                why = _DIFFERENTLY
            elif call.kind == "rescale" and item.y.shape != x_ref.shape:
                why = _NOT_SHAPED
        if why is not None:
            raise UnsupportedLayer(f"deepshap cannot handle {call.label} in layer {call.layer!r} ({why}); use "
                                   "--method ig or ism for this model")
        if call.paired is not None:
            rows = slice(part * k, (part + 1) * k)
            call.paired.x, call.paired.y = x_ref[rows], item.y[rows]
            call.paired.index = None if item.index is None else item.index[rows]


class _LayerNames:
    """Keeps the qualified name of the module running (for error messages) while attached."""

    def __init__(self, model: nn.Module):
        self.stack: list[str] = []
        self.handles = []
        if isinstance(model, nn.Module):
            for name, module in model.named_modules():
                label = f"{name or 'model'} ({type(module).__name__})"
                if not name and isinstance(module, torch.fx.GraphModule):  # a torch.export graph: no module calls
                    label = "the exported graph"
                self.handles.append(module.register_forward_pre_hook(lambda *_, label=label: self._push(label)))
                self.handles.append(module.register_forward_hook(lambda *_: self._pop()))

    def _push(self, label: str) -> None:
        self.stack.append(label)

    def _pop(self) -> None:
        if self.stack:
            self.stack.pop()

    def close(self):
        for handle in self.handles:
            handle.remove()


def deeplift_multipliers(model: nn.Module, x: torch.Tensor, references: torch.Tensor, target: Target
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DeepLIFT (rescale rule) multipliers of each sequence against each reference.

    The sequences run with the rules applied; the references then run without gradients, recording their
    activations at every nonlinearity, paired call by call, and one backward pass gives the multipliers.
    Model parameters are frozen for the call.

    Parameters
    ----------
    x
        ``(P, 4, L)`` sequences, one per pair.
    references
        ``(P, 4, L)`` the reference of each pair.
    target
        What to explain; a ``bpnet`` target evaluates the references with the sequences' softmax weights.

    Returns
    -------
    multipliers, prediction, reference_prediction
        ``(P, 4, L)``, ``(P,)``, ``(P,)``.

    Raises
    ------
    UnsupportedLayer
        For an operation the rules do not cover, or a model that runs differently on the references.
    InputError
        For a TorchScript model (its operations run outside Python, out of the rules' reach).
    """
    multipliers, prediction, reference_prediction = shared_multipliers(model, x, references[:, None], target)
    return multipliers[:, 0], prediction, reference_prediction[:, 0]


def shared_multipliers(model: nn.Module, x: torch.Tensor, references: torch.Tensor, target: Target,
                       group: int | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DeepLIFT multipliers of each sequence against each of its ``R`` references, running each sequence once.

    A sequence's activations do not depend on the reference: only the multipliers do. The ``N`` sequences run
    once with the rules, noting every nonlinear call; then the references run without gradients, ``group`` ranks
    at a time (``group * N`` rows, reference-major), recording their tensors at the same calls; for each
    reference, its rows are handed to the rules (:class:`~.deeplift_rules.Paired`) and one backward pass gives
    its multipliers. The values are those of :func:`deeplift_multipliers` on the ``N * R`` pairs; a model whose
    operations mix the rows of a batch is caught by the caller's completeness check (see :func:`deep_lift_shap`).

    Parameters
    ----------
    x
        ``(N, 4, L)`` sequences.
    references
        ``(N, R, 4, L)`` their references.
    target
        What to explain.
    group
        References per pass of the references (``None``: all ``R`` in one pass, the fastest on the CPU; fewer
        hold fewer references' activations at once).

    Returns
    -------
    multipliers, prediction, reference_prediction
        ``(N, R, 4, L)``, ``(N,)``, ``(N, R)``.

    Raises
    ------
    UnsupportedLayer, InputError
        As :func:`deeplift_multipliers`.
    """
    if isinstance(model, torch.jit.ScriptModule):
        raise InputError("deepshap needs a Python nn.Module (a seqsal .safetensors, a state_dict) or a torch.export "
                         "archive (.pt2): TorchScript runs its operations outside Python where the DeepLIFT rules "
                         f"cannot reach (export the model with torch.export.export instead); use "
                         f"{option('method')} ig or ism", model_file(model))
    n, r = references.shape[:2]
    group = r if group is None else max(1, int(group))
    parameters = [p for p in model.parameters() if p.requires_grad] if isinstance(model, nn.Module) else []
    for parameter in parameters:
        parameter.requires_grad_(False)
    names = _LayerNames(model)
    pending: list[_Pending] = []
    multipliers, reference_prediction = [], []
    try:
        leaf = x.detach().requires_grad_(True)
        with torch.enable_grad():
            with _DeepLiftMode(False, pending, names.stack):
                output = model(leaf)
            prediction = target.select(output).float()
            total = prediction.sum()
        # the reference's target with the sequence's bpnet weights (Target.profile_weights): the multipliers
        # explain exactly that difference
        weights = target.profile_weights(output)
        for first in range(0, r, group):  # a group of references' pass, then a backward pass for each
            parts = min(group, r - first)
            stacked = references[:, first:first + parts].transpose(0, 1).reshape(parts * n, *references.shape[2:])
            recorded: list[_Recorded] = []
            with torch.no_grad(), _DeepLiftMode(True, recorded, names.stack):
                output_ref = model(stacked)
            many = None if weights is None else weights.repeat(parts, *([1] * (weights.ndim - 1)))
            reference_prediction.extend(target.select(output_ref, many).float().reshape(parts, n).unbind(0))
            for part in range(parts):
                _pair(pending, recorded, part, parts)
                with torch.enable_grad():
                    multipliers.append(_multipliers(total, leaf, first + part < r - 1))
            del recorded, output_ref
    finally:
        names.close()
        for parameter in parameters:
            parameter.requires_grad_(True)
    return (torch.stack(multipliers, dim=1).detach(), prediction.detach(),
            torch.stack(reference_prediction, dim=1).detach())


def _pair_multipliers(model: nn.Module, xs: torch.Tensor, rs: torch.Tensor, target: Target
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`shared_multipliers`, checked: where the pairs miss summation-to-delta (a model that mixes the rows
    of a batch, or permutes the batch dimension away) or the rules refuse the shared pass, every pair is run on
    its own (:func:`deeplift_multipliers`), which raises or gives the reference values."""
    k, r = rs.shape[:2]
    if r > 1:
        try:
            multipliers, prediction, reference = shared_multipliers(model, xs, rs, target)
            projected = ((xs[:, None] - rs) * multipliers).reshape(k * r, -1)
            delta = (prediction[:, None] - reference).reshape(-1)
            if bool((relative_completeness(projected.sum(1), projected.abs().sum(1), delta) <= 1e-3).all()):
                return multipliers, prediction, reference
        except UnsupportedLayer:
            pass
    pairs_x = xs[:, None].expand(k, r, *xs.shape[1:]).reshape(k * r, *xs.shape[1:])
    multipliers, prediction, reference = deeplift_multipliers(model, pairs_x, rs.reshape(k * r, *xs.shape[1:]), target)
    return multipliers.reshape(k, r, *xs.shape[1:]), prediction.reshape(k, r)[:, 0], reference.reshape(k, r)


@method_entry
def deep_lift_shap(
    model: nn.Module, x: torch.Tensor, target: Target | None = None, references: int | torch.Tensor = 20,
    baseline: str = "shuffle", seed: int = 0, pair_batch: int = 256, check: float | None = 1e-3,
    reference_sink: list | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DeepLIFT/DeepSHAP (rescale rule) against dinucleotide-shuffled references.

    DeepLIFT's rescale rule (Shrikumar et al. 2017) averaged over references as DeepSHAP does (Lundberg & Lee
    2017); the same rules and hypothetical convention as tangermeme's ``deep_lift_shap``.

    Parameters
    ----------
    model, x, target
        Model (an ``nn.Module``, or what :func:`seqsal.load_model` returns: its module, task names and input
        length), one-hot ``(N, 4, L)`` (tensor; a numpy array is taken as float32), what to explain (a
        :class:`~seqsal.attribution.Target`, its string or a task index or name, as for :func:`seqsal.attribute`).
    references
        Shuffles per sequence, or the references themselves ``(N, R, 4, L)``.
    baseline
        ``shuffle`` (default), ``zero`` or ``uniform`` (then one reference).
    seed
        Seed of the shuffles (mixed with each sequence's bytes).
    pair_batch
        Sequence-reference pairs per pass.
    check
        Raise :class:`~.references.IncompleteAttribution` when a pair's summation-to-delta error exceeds this
        fraction of ``Σ |attributions| + |f(x) - f(ref)|`` (:func:`~.references.relative_completeness`;
        ``None``: no check, as the engine calls it: it checks each window itself).
    reference_sink
        If a list, ``mean f(references)`` ``(N,)`` is appended to it (computed anyway; for
        per-region summation-to-delta checks, see :data:`REFERENCE_METHODS`).

    Returns
    -------
    hypothetical, prediction
        ``(N, 4, L)`` (see :mod:`seqsal.methods`) and ``(N,)``.

    Raises
    ------
    UnsupportedLayer
        For a model operation the rules do not cover (an :class:`InputError` naming the layer).
    IncompleteAttribution
        When ``check`` is exceeded (an :class:`InputError`).
    InputError
        For ``x`` not one-hot ``(N, 4, L)`` or a bad ``target`` (:func:`~seqsal.methods.inputs.method_inputs`); for a
        TorchScript model, a ``transform=logit`` target, references of the wrong shape or an unknown baseline.
    """
    if target.transform not in (None, "none"):
        raise InputError(f"deepshap cannot explain {option('target', f'transform={target.transform}')}: its rescale "
                         "rules act on the model's own layers, and a transform applied to the output is not one of "
                         "them (the attributions would not sum to the transformed difference); use grad_x_input, ig or "
                         "ism, or a model that returns its logit")
    refs = resolve_references(x, references, baseline, seed)
    n, r = refs.shape[:2]
    per_pass = max(1, pair_batch // r)
    hypothetical, predictions, reference_means = [], [], []
    for first in range(0, n, per_pass):
        xs, rs = x[first:first + per_pass], refs[first:first + per_pass]
        multipliers, prediction, prediction_ref = _pair_multipliers(model, xs, rs, target)
        if check is not None:
            check_completeness("deepshap", ((xs[:, None] - rs) * multipliers).flatten(0, 1),
                               (prediction[:, None] - prediction_ref).flatten(), check, DEEPSHAP_ADVICE,
                               prediction[:, None].expand_as(prediction_ref).flatten())
        hypothetical.append(hypothetical_from_multipliers(multipliers, rs))
        predictions.append(prediction)
        reference_means.append(prediction_ref.mean(dim=1))
    if reference_sink is not None:
        reference_sink.append(torch.cat(reference_means) if reference_means else x.new_zeros(0))
    if not hypothetical:
        return torch.zeros_like(x), x.new_zeros(0)
    return torch.cat(hypothetical), torch.cat(predictions)
