"""Devices and precision: which device to run on, the autocast dtype of ``--precision``, whether a model is there.

A bottom-layer module (torch only): both the notebook dispatcher (:func:`seqsal.attribute`) and the region engine
choose their device and precision here.
"""
from __future__ import annotations

import torch
from torch import nn

from .errors import InputError, option


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: the one named, else ``cuda`` > ``mps`` > ``cpu``.

    Parameters
    ----------
    device
        ``cuda``, ``cuda:1``, ``mps``, ``cpu``, a :class:`torch.device`, or ``None``/``"auto"`` for the best
        available.

    Returns
    -------
    torch.device

    Raises
    ------
    InputError
        When the device named is not available on this machine.
    """
    if device not in (None, "auto"):
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InputError(f"{option('device', 'cuda')} was asked for but no CUDA GPU is available; use "
                             f"{option('device', 'cpu')}")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise InputError(f"{option('device', 'mps')} was asked for but MPS is not available; use "
                             f"{option('device', 'cpu')}")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype_for(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``--precision``.

    Parameters
    ----------
    precision
        ``fp32`` (no autocast), ``bf16`` or ``fp16`` (GPU only).
    device
        The device the model runs on.

    Returns
    -------
    torch.dtype or None
        ``None`` for ``fp32``, else ``torch.bfloat16`` or ``torch.float16``.

    Raises
    ------
    InputError
        For an unknown precision, or ``fp16`` on the CPU.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        if device.type == "cpu":
            raise InputError(f"{option('precision', 'fp16')} needs a GPU; on the CPU use bf16 or fp32")
        return torch.float16
    raise InputError(f"unknown {option('precision')} {precision!r}; choose fp32, bf16 or fp16")


def on_device(model: nn.Module, device: torch.device) -> bool:
    """Whether every parameter and buffer of ``model`` is on ``device`` already.

    Parameters
    ----------
    model
        A module (``.to(device)`` on it would otherwise walk every tensor even when it is a no-op).
    device
        The target device; ``cuda`` without an index means the current CUDA device.

    Returns
    -------
    bool
        ``False`` for a model with no parameters or buffers.
    """
    index = device.index
    if index is None and device.type == "cuda":
        index = torch.cuda.current_device()
    tensors = [*model.parameters(), *model.buffers()]
    return bool(tensors) and all(
        t.device.type == device.type and (index is None or t.device.index == index) for t in tensors
    )
