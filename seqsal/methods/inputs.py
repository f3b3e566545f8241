"""What every attribution method is given, checked once: the model, the one-hot batch and the target.

``seqsal.attribute`` and the engine pass a checked float32 batch and a :class:`~seqsal.attribution.Target`;
a notebook calling a method itself (``seqsal.integrated_gradients(model, x, target=2)``) may pass a numpy array,
a target string or index, or what :func:`seqsal.load_model` returns. :func:`method_entry` makes each public method
take those as ``seqsal.attribute`` does, and refuse the rest with one :class:`~seqsal.errors.InputError`.
"""
from __future__ import annotations

import functools
import numbers
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..attribution import Target, eval_mode
from ..errors import InputError, option
from ..models.files import LoadedModel
from ..models.logit_output import exact_logit
from ..models.probes import check_float32


def check_batch(x: torch.Tensor) -> None:
    """Refuse a batch that is not one-hot sequences ``(N, 4, L)``, saying how to make it one (:class:`InputError`)."""
    shape = tuple(x.shape)
    if x.ndim == 2 and shape[0] == 4:
        raise InputError(f"x has shape {shape}: one sequence without its batch axis; pass x[None] (shape (1, 4, L))")
    if x.ndim == 3 and shape[1] != 4 and shape[2] == 4:
        raise InputError(f"x has shape {shape}, (N, L, 4); pass x.transpose(1, 2): seqsal feeds models (N, 4, L) "
                         "(a model that reads (N, L, 4): seqsal.load_model(path, layout=\"nlc\") wraps it)")
    if x.ndim != 3 or shape[1] != 4:
        raise InputError(f"x has shape {shape}; pass one-hot sequences of shape (N, 4, L) (seqsal.one_hot_encode gives "
                         "one, (4, L): stack them)")


def as_batch(x) -> torch.Tensor:
    """``x`` as a one-hot batch tensor: a tensor as it is, a numpy array or nested list as float32.

    Raises
    ------
    InputError
        For a string (a sequence not yet encoded) or anything else that is not ``(N, 4, L)``
        (:func:`check_batch`).
    """
    if isinstance(x, str):
        raise InputError("x is a string; give one-hot (N, 4, L): torch.from_numpy(seqsal.one_hot_encode(seq))[None]")
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        except (TypeError, ValueError) as error:
            raise InputError(f"x is a {type(x).__name__}, not numbers ({error}); give one-hot (N, 4, L) as a torch "
                             "tensor or numpy array") from None
    check_batch(x)
    return x


def as_target(target: Target | str | int | None) -> Target:
    """The :class:`Target` of a ``target`` argument.

    Parameters
    ----------
    target
        A :class:`Target`, its string form (:meth:`Target.parse`), an integer task index (``int`` or a numpy
        integer: the same as its string, ``2`` is ``"2"``) or ``None`` (task 0 of the first output).

    Returns
    -------
    Target
        Task names are left for :meth:`Target.resolve`.

    Raises
    ------
    InputError
        For any other type (``bool`` included), naming what to pass.
    """
    if target is None or isinstance(target, str):
        return Target.parse(target)
    if isinstance(target, Target):
        return target
    if isinstance(target, numbers.Integral) and not isinstance(target, bool):
        return Target.parse(str(int(target)))
    raise InputError(f"{option('target')} is a {type(target).__name__} ({target!r}); pass a task index (an int), its "
                     "name or a target string (e.g. \"2\", \"enhancer\", \"output=1,task=0,reduce=bpnet\"), a "
                     "seqsal.Target or None")


def as_module(model: nn.Module | LoadedModel, length: int, float32: bool = True
              ) -> tuple[nn.Module, list[str] | None]:
    """The module a method runs, from an ``nn.Module`` or a :class:`~seqsal.models.LoadedModel`.

    Parameters
    ----------
    model
        The model given; a loaded one is already in its layout (``load_model(..., layout=...)``).
    length
        ``L`` of the one-hot batch ``(N, 4, L)``.
    float32
        Refuse a module whose parameters are not float32 (``seqsal.attribute`` feeds float32; a method called
        directly runs in the dtype of the ``x`` it is given).

    Returns
    -------
    module, task_names
        The module and the task names (of the file, else the module's ``task_names`` attribute). Whether it may be
        moved to another device is :func:`seqsal.devices.exported_module`'s to say.

    Raises
    ------
    InputError
        For a loaded model whose file declares an input length other than ``length``; with ``float32``, a module
        whose parameters are not float32 (float64, half); anything that is not callable.
    """
    if isinstance(model, LoadedModel):
        if model.input_length is not None and int(model.input_length) != length:
            raise InputError(f"x has length {length} but the model file declares windows of {model.input_length} "
                             f"bases; pass sequences of length {model.input_length}")
        return model.module, model.task_names
    if not callable(model):
        raise InputError(f"model is a {type(model).__name__}; pass a torch nn.Module or what seqsal.load_model(path) "
                         "returns")
    if float32:
        check_float32(model)
    return model, getattr(model, "task_names", None)


def method_inputs(model, x, target) -> tuple[nn.Module, torch.Tensor, Target]:
    """The module, batch and resolved target a method runs on (:func:`as_module`, :func:`as_batch`,
    :func:`as_target` and :meth:`Target.resolve` with the model's task names); a target explained as a sigmoid's
    logit runs on the model rewritten to return the sigmoid's input (:func:`~seqsal.models.logit_output.exact_logit`),
    so that its values are not inverted from float32 probabilities."""
    x = as_batch(x)
    module, task_names = as_module(model, x.shape[-1], float32=False)
    module, target = exact_logit(module, as_target(target).resolve(task_names))
    return module, x, target


def method_entry(function: Callable) -> Callable:
    """A method ``function(model, x, target, ...)`` that takes what ``seqsal.attribute`` takes: ``x`` a numpy array
    or tensor, ``target`` a :class:`Target`, its string or a task index, ``model`` a module or a loaded model file
    (:func:`method_inputs`); its signature and docstring are kept. The model runs in eval mode, as in
    ``seqsal.attribute`` (review26: a model left in training mode gave random IG, ISM and SmoothGrad maps, and each
    call moved its batch norm's running statistics); its mode is restored afterwards."""
    @functools.wraps(function)
    def checked(model, x, target=None, *args, **kwargs):
        model, x, target = method_inputs(model, x, target)
        with eval_mode(model):
            return function(model, x, target, *args, **kwargs)
    return checked
