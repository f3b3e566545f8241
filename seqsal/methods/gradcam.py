"""Grad-CAM (Selvaraju et al. 2017) of a convolutional layer, upsampled from the layer's length to bases.

Not a gradient of the input: the dispatcher never gradient-corrects it, and its "hypothetical" channels all hold
the same map.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..attribution import Target
from ..errors import InputError


def _find_layer(model: nn.Module, layer: str | None) -> tuple[str, nn.Module]:
    """The module named ``layer``, or the model's last ``Conv1d`` (``InputError`` when there is none)."""
    modules = dict(model.named_modules()) if isinstance(model, nn.Module) else {}
    if layer:
        if layer not in modules:
            convs = [name for name, m in modules.items() if isinstance(m, nn.Conv1d)]
            raise InputError(f"--layer {layer!r} is not a module of the model; its convolutions: {', '.join(convs)}")
        return layer, modules[layer]
    convs = [(name, m) for name, m in modules.items() if isinstance(m, nn.Conv1d)]
    if not convs:
        raise InputError("gradcam needs a model with a Conv1d layer (name it with --layer)")
    return convs[-1]


def gradcam(model: nn.Module, x: torch.Tensor, target: Target | None = None, layer: str | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM (Selvaraju et al. 2017) of a convolutional layer, upsampled to bases.

    ``ReLU(Σ_k α_k A_k)`` with ``α_k`` the mean gradient of the target over the positions of channel ``k``
    of the layer's output ``A``; linearly interpolated from the layer's length to ``L`` and repeated over the
    four channels.

    Parameters
    ----------
    model, x, target
        Model, one-hot ``(N, 4, L)``, what to explain (default: the logit of task 0).
    layer
        Qualified module name (``model.named_modules()``) of the layer; ``None``: the last ``Conv1d``.

    Returns
    -------
    cam, prediction
        ``(N, 4, L)`` the Grad-CAM value at each base repeated over the four channels (so the projected track
        is that value at every base, 0 at N), and the target ``(N,)``.

    Raises
    ------
    InputError
        When ``layer`` is not a module of the model, or the model has no ``Conv1d``.
    """
    target = target or Target()
    _, module = _find_layer(model, layer)
    captured = {}
    handle = module.register_forward_hook(lambda _m, _i, out: captured.__setitem__("a", out))
    try:
        with torch.enable_grad():
            leaf = x.detach().requires_grad_(True)
            prediction = target.select(model(leaf)).float()
            activation = captured["a"]
            (gradient,) = torch.autograd.grad(prediction.sum(), activation)
    finally:
        handle.remove()
    weights = gradient.mean(dim=-1, keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True)).detach()  # (N, 1, L')
    cam = F.interpolate(cam, size=x.shape[-1], mode="linear", align_corners=False)
    return cam.expand(-1, x.shape[1], -1).contiguous(), prediction.detach()
