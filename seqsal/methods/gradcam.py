"""Grad-CAM (Selvaraju et al. 2017) of a layer's feature maps, upsampled from the layer's length to bases.

Grad-CAM weighs the feature maps of a network's last feature-extraction block — for a CNN, the rectified output of
its last convolution block — by the mean gradient of the target over each map. By default that layer is found by
running the model: the output of the last activation (ReLU, GELU, ...; :data:`~.ops.ACTIVATIONS`, in any form:
module, functional, in-place or an ATen overload of a ``torch.export`` graph) applied to a feature map
``(N, C, L' > 1)`` after a convolution, ``C`` a convolution's channel count (not a channels-last
``(N, L', tracks)`` head), among those the target depends on through more than one channel (an output
head's activation, of which the target reads one channel, is the prediction, not a feature map), judged once per
model, target and input length on a fixed batch of random sequences, so that a run's regions, their order, its
shards and a resume all get the same layer. For a Basset-style model that is the ReLU of the last convolution
block (not its convolution, before batch norm and ReLU); for BPNet the ReLU of the last dilated convolution (not
the profile head, which the counts target does not use).
``--layer`` names another module instead; a name that is not a module whose feature maps the target depends on is
refused with the list of those that are.

Not a gradient of the input: the dispatcher never gradient-corrects it, and its "hypothetical" channels all hold
the same map.
"""
from __future__ import annotations

import logging
from dataclasses import replace
import weakref

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from ..attribution import Target
from ..errors import InputError, option
from ..models.files import model_file
from ..models.logit_output import ScriptLogit, written_model
from ..models.user import static_batch
from .inputs import method_entry
from .ops import ACTIVATIONS, is_inplace, op_name, out_of_place

log = logging.getLogger("seqsal")
CONVOLUTIONS = frozenset({"conv1d", "convolution", "_convolution", "conv_transpose1d"})


def _is_feature_map(value, n: int) -> bool:
    """A sequence-dependent ``(N, C, L' > 1)`` tensor of a batch of ``n``."""
    return isinstance(value, torch.Tensor) and value.requires_grad and value.dim() == 3 and value.shape[0] == n \
        and value.shape[-1] > 1


class _Activations(TorchFunctionMode):
    """Records, in call order, the outputs of activations applied to feature maps after a convolution.

    An in-place activation (``nn.ReLU(inplace=True)``, ``h.relu_()``) is computed out of place and written into
    its argument, so that the recorded output keeps its values and its place in the autograd graph.
    """

    def __init__(self, n: int):
        super().__init__()
        self.n, self.found, self.convolutions = n, [], []
        self.returned, self.ops, self.after = [], [], []  # of each found: the tensor returned, its op, its convolution

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = op_name(func)
        if name in CONVOLUTIONS and args and _is_feature_map(args[0], self.n):
            result = func(*args, **kwargs)
            if _is_feature_map(result, self.n):
                self.convolutions.append(result)
            return result
        if name in ACTIVATIONS and self.convolutions and args and _is_feature_map(args[0], self.n) \
                and any(args[0].shape[1] == conv.shape[1] for conv in self.convolutions):
            # channels as a convolution's: not a channels-last (N, L', tracks) head after a transpose and a Linear
            y = out_of_place(func, args, kwargs)(args, kwargs)
            if isinstance(y, torch.Tensor) and y.shape == args[0].shape:
                self.found.append(y)
                self.ops.append(name)
                self.after.append(self.convolutions[-1])
                if is_inplace(func, args, kwargs):
                    args[0].copy_(y)
                    self.returned.append(args[0])
                    return args[0]
                self.returned.append(y)
                return y
        return func(*args, **kwargs)


def _forward(model: nn.Module, x: torch.Tensor) -> tuple[object, _Activations, dict[str, torch.Tensor]]:
    """Run the model on ``x`` (requiring grad), recording the activations' and convolutions' outputs
    (:class:`_Activations`) and the feature maps ``(N, C, L' > 1)`` each named module returns."""
    modules: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(
                lambda _m, _i, out, name=name: modules.__setitem__(name, out) if _is_feature_map(out, x.shape[0])
                else None))
    mode = _Activations(x.shape[0])
    try:
        with mode:
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return output, mode, modules


_PICKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> the default layer last picked for it
# model -> {(target, input length): (activations found in a forward, the index of the default one)}
_PICKED_AT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def picked_layer(model: nn.Module) -> str | None:
    """The layer :func:`gradcam` last picked by default for ``model`` (a module name for ``layer=``, or a function
    in forward described), ``None`` before a call without ``layer``: what a run's record can name."""
    try:
        return _PICKED.get(model)
    except TypeError:
        return None


def _default_layer(seen: _Activations, index: int, modules: dict[str, torch.Tensor]) -> str:
    """What the default layer ``index`` of ``seen`` is: the innermost module returning it (the last in call order
    of those no other one is inside), else the activation function and the convolution module it follows."""
    def named(tensor: torch.Tensor) -> str | None:
        names = [name for name, value in modules.items() if value is tensor]
        inner = [name for name in names if not any(other.startswith(name + ".") for other in names)]
        return inner[-1] if inner else None

    if not seen.found:  # no activation: the last convolution
        name = named(seen.convolutions[index])
        return name if name is not None else "the last convolution, a function in forward (not a module)"
    name = named(seen.returned[index])
    if name is not None:
        return name
    conv = named(seen.after[index])
    # "after": other operations may lie between (fresh30: gelu(ln2(conv2(h))) was named gelu(conv2))
    return f"{seen.ops[index]} after {conv or 'a convolution'}, a function in forward (not a module)"


PROBE_ROWS = 8  # random sequences the default layer is judged on (review29b)


def _wide(used: list[int], gradients) -> list[int]:
    """Of ``used``, the activations whose gradient reaches more than one channel over the batch (all of ``used``
    when none does): not an output head's, whose one channel the target reads."""
    return [i for i in used if int((gradients[i].abs().sum(dim=(0, 2)) > 0).sum()) > 1] or used


def _probe_pick(model: nn.Module, like: torch.Tensor, target: Target) -> tuple[int, int] | None:
    """``(activations found, index of the default one)`` judged on :data:`PROBE_ROWS` random one-hot sequences of
    ``like``'s length (a fixed seed; no more rows than ``like`` has, so that a long window's probe holds no more
    than the batch; a static-batch program's batch), or None when there is none."""
    bases = torch.randint(0, 4, (static_batch(model) or min(PROBE_ROWS, like.shape[0]), like.shape[-1]),
                          generator=torch.Generator().manual_seed(0))
    probe = F.one_hot(bases, 4).transpose(1, 2).to(dtype=like.dtype, device=like.device).requires_grad_(True)
    output, seen, _ = _forward(model, probe)
    candidates = seen.found or seen.convolutions
    if not candidates:
        return None
    gradients = torch.autograd.grad(target.select(output).float().sum(), candidates, allow_unused=True)
    picked = _wide([i for i, gradient in enumerate(gradients) if gradient is not None], gradients)
    return (len(candidates), picked[-1]) if picked else None


def _default_pick(model: nn.Module, x: torch.Tensor, target: Target, n_candidates: int, used: list[int],
                  gradients) -> list[int]:
    """``used`` (indices of the activations the target depends on in this batch) reduced to the default layer's.

    The layer is judged once per model, target and input length on random sequences (:func:`_probe_pick`), not
    per batch: which activations the target weighs more than one channel of can differ between batches of a
    thresholded model (review28b: one run mixed two layers' maps), and a pick kept from a run's first batch
    differed with the regions' order, a shard or a resume, and carried over to another target of the same model
    (review29b). Where that layer is not in this batch's graph, or its gradient is 0 here (control flow that
    depends on the sequence), this batch is judged on its own (:func:`_wide`)."""
    key = (repr(target), int(x.shape[-1]))
    try:
        picks = _PICKED_AT.setdefault(model, {})
    except TypeError:  # not weakly referable
        picks = {}
    if key not in picks:
        picks[key] = _probe_pick(model, x, target)
    pick = picks[key]
    if pick is not None and pick[0] == n_candidates and pick[1] in used and bool(gradients[pick[1]].abs().sum() > 0):
        return [pick[1]]
    return _wide(used, gradients)


def _log_default_layer(model: nn.Module, layer: str) -> None:
    """Log the layer Grad-CAM picked by default, once per model (and again should it change)."""
    try:
        if _PICKED.get(model) == layer:
            return
        _PICKED[model] = layer
    except TypeError:  # not weakly referable
        pass
    log.info("gradcam: default layer %s: the rectified output of the last convolution block that the target "
             "depends on (--layer names another)", layer)


def _layer_error(layer: str, valid: list[str]) -> InputError:
    if valid:
        return InputError(f"{option('layer')} {layer!r} is not a module whose feature maps (N, C, L) the target "
                          f"depends on; valid layers: {', '.join(valid)}")
    return InputError(f"{option('layer')} {layer!r}: this model has no module whose feature maps (N, C, L) the target "
                      f"depends on (a torch.export graph calls no modules); leave {option('layer')} out to use the "
                      "rectified output of its last convolution block")


@method_entry
def gradcam(model: nn.Module, x: torch.Tensor, target: Target | None = None, layer: str | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM (Selvaraju et al. 2017) of a layer's feature maps, upsampled to bases.

    ``ReLU(Σ_k α_k A_k)`` with ``α_k`` the mean gradient of the target over the positions of channel ``k``
    of the layer's output ``A``; linearly interpolated from the layer's length to ``L`` and repeated over the
    four channels.

    Parameters
    ----------
    model, x, target
        Model (an ``nn.Module``, or what :func:`seqsal.load_model` returns: its module, task names and input
        length), one-hot ``(N, 4, L)`` (tensor; a numpy array is taken as float32), what to explain (a
        :class:`~seqsal.attribution.Target`, its string or a task index or name, as for :func:`seqsal.attribute`;
        default: task 0 of the output as it is;
        these functions apply no transform, where :func:`seqsal.attribute` explains a sigmoid or softmax
        output as its logit or log-odds).
    layer
        Qualified module name (``model.named_modules()``) of the layer; ``None``: the rectified feature maps of the
        last convolution block (the output of the last activation applied to a convolution's feature maps that
        the target depends on; see the module docstring); in a model with no activation after a convolution, the
        last convolution's output.

    Returns
    -------
    cam, prediction
        ``(N, 4, L)`` the Grad-CAM value at each base repeated over the four channels (so the projected track
        is that value at every base, 0 at N), and the target ``(N,)``.

    Raises
    ------
    InputError
        For ``x`` not one-hot ``(N, 4, L)`` or a bad ``target`` (:func:`~seqsal.methods.inputs.method_inputs`); when
        ``layer`` is not a module whose ``(N, C, L')`` output the target depends on (the message lists those that are),
        when the model has no activation after a convolution that the target depends on, or for a TorchScript model (its
        operations and modules run outside Python, out of reach).
    """
    if isinstance(model, (torch.jit.ScriptModule, ScriptLogit)):  # ScriptLogit: a TorchScript sigmoid's logit
        model = getattr(model, "model", model)
        raise InputError("gradcam needs a Python nn.Module or a torch.export archive: TorchScript runs its layers "
                         f"outside Python where their feature maps cannot be read; use another {option('method')}",
                         model_file(model))
    batch = static_batch(model)
    if batch and x.shape[0] != batch:  # a static-batch program: exactly `batch` rows a call (padded, then dropped)
        parts = []
        for first in range(0, x.shape[0], batch):
            chunk = x[first:first + batch]
            padded = torch.cat([chunk, chunk.new_zeros((batch - chunk.shape[0], *chunk.shape[1:]))])
            cam, prediction = gradcam(model, padded, target, layer)
            parts.append((cam[:chunk.shape[0]], prediction[:chunk.shape[0]]))
        return torch.cat([cam for cam, _ in parts]), torch.cat([prediction for _, prediction in parts])
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        output, seen, modules = _forward(model, leaf)
        prediction = target.select(output).float()
        # no activation after a convolution (a linear model): the last convolution's output, as Grad-CAM on a
        # convolution layer
        candidates = [modules[layer]] if layer in modules else [] if layer is not None else \
            seen.found or seen.convolutions
        gradients = torch.autograd.grad(prediction.sum(), candidates, allow_unused=True) if candidates else []
        used = [i for i, gradient in enumerate(gradients) if gradient is not None]
        if layer is None:  # fresh28: a Basenji-like head's softplus was taken: the target reads one of its channels,
            # so its "map" was the predicted track itself; the last activation whose channels the target weighs
            used = _default_pick(model, x, target, len(candidates), used, gradients)
        if not used:
            names = [name for name, _ in model.named_modules() if name in modules]  # in module order
            unused = torch.autograd.grad(prediction.sum(), [modules[name] for name in names], allow_unused=True) \
                if names else []
            valid = [name for name, gradient in zip(names, unused) if gradient is not None]
            if layer is not None and (written := written_model(model)) is not None:  # a block the rewrite inlined
                return gradcam.__wrapped__(written, x, replace(target, model_logit=False), layer)
            if layer is not None:
                raise _layer_error(layer, valid)
            raise InputError("gradcam found no activation (ReLU, GELU, ...) applied to a convolution's feature maps "
                             f"that the target depends on; name a layer with {option('layer')}"
                             + (f" (valid layers: {', '.join(valid)})" if valid else ""))
        activation, gradient = candidates[used[-1]], gradients[used[-1]]
        if layer is None:
            _log_default_layer(model, _default_layer(seen, used[-1], modules))
    weights = gradient.mean(dim=-1, keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True)).detach()  # (N, 1, L')
    cam = F.interpolate(cam, size=x.shape[-1], mode="linear", align_corners=False)
    return cam.expand(-1, x.shape[1], -1).contiguous(), prediction.detach()
