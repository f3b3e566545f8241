"""SmoothGrad (Smilkov et al. 2017): the input gradient averaged over noisy copies of each sequence."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..attribution import Target, input_gradient
from ..errors import InputError, option
from .gradient_check import check_input_gradient
from .inputs import method_entry
from .references import sequence_rng


@method_entry
def smoothgrad(model: nn.Module, x: torch.Tensor, target: Target | None = None, samples: int = 20,
               noise: float = 0.1, seed: int = 0, point_batch: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """SmoothGrad (Smilkov et al. 2017): the input gradient averaged over ``samples`` copies ``x + N(0, noise²)``.

    Parameters
    ----------
    model, x, target
        Model (an ``nn.Module``, or what :func:`seqsal.load_model` returns: its module, task names and input
        length), one-hot ``(N, 4, L)`` (tensor; a numpy array is taken as float32), what to explain (a
        :class:`~seqsal.attribution.Target`, its string or a task index or name, as for :func:`seqsal.attribute`;
        default: task 0 of the output as it is;
        these functions apply no transform, where :func:`seqsal.attribute` explains a sigmoid or softmax
        output as its logit or log-odds).
    samples
        Noisy copies per sequence.
    noise
        Standard deviation of the noise, in one-hot units (the input range is 1).
    seed
        Seed of the noise (mixed with each sequence's bytes, so a sequence gets the same noise in any batch).
    point_batch
        Noisy copies per forward/backward pass.

    Returns
    -------
    gradient, prediction
        The mean gradient ``(N, 4, L)`` (a gradient like saliency: the dispatcher corrects it unless told not
        to) and the target on the clean ``x`` ``(N,)``.

    Raises
    ------
    InputError
        For ``x`` not one-hot ``(N, 4, L)`` or a bad ``target`` (:func:`~seqsal.methods.inputs.method_inputs`); for
        ``samples < 1``, ``noise < 0``, or a noise so large that the noisy copies overflow; for a model whose input
        gradient is not its derivative (:func:`~.gradient_check.check_input_gradient`).
    """
    if samples < 1:
        raise InputError(f"{option('samples')} must be at least 1, got {samples}")
    if noise < 0:
        raise InputError(f"{option('noise')} must be >= 0, got {noise}")
    if n := x.shape[0]:  # fresh27b: called by itself (not through the dispatcher) a .detach() went unseen
        check_input_gradient(model, x.shape[-1], target, x.device, "smoothgrad", window=x[0])
    draws = []
    for row in x:
        rng = sequence_rng(row, seed)
        draws.append(torch.from_numpy(rng.standard_normal((samples, *x.shape[1:]), dtype=np.float32)))
    eps = torch.stack(draws).to(device=x.device, dtype=x.dtype) if draws else x.new_zeros((0, samples, *x.shape[1:]))
    flat = (x[:, None] + noise * eps).reshape(n * samples, *x.shape[1:])
    if not bool(torch.isfinite(flat).all()):  # auditbreak: 1e308 made the model's outputs NaN, the maps meaningless
        raise InputError(f"{option('noise')} {noise:g} overflows the noisy copies ({x.dtype}); give a standard "
                         "deviation in one-hot units, e.g. 0.1 to 1")
    gradients = [input_gradient(model, flat[i:i + point_batch], target)[0] for i in range(0, flat.shape[0], point_batch)]
    gradient = torch.cat(gradients).reshape(n, samples, *x.shape[1:]).mean(dim=1) if gradients else torch.zeros_like(x)
    with torch.no_grad():
        prediction = target.select(model(x)).float()
    return gradient, prediction
