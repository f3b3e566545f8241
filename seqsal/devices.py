"""Devices and precision: which device to run on, the autocast dtype of ``--precision``, whether a model is there.

A bottom-layer module (torch only): both the notebook dispatcher (:func:`seqsal.attribute`) and the region engine
choose their device and precision here.
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator

import torch
from torch import nn

from .errors import InputError, option


DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"
"""The spellings of ``--device`` that :func:`parse_device` accepts, as its error messages list them."""

_DEVICE_PATTERN = re.compile(r"(cpu|mps|cuda)(?::(0|[1-9][0-9]*))?")


def parse_device(text: str) -> torch.device | None:
    """The device named by a ``--device`` value, or ``None`` for ``auto``; no availability check.

    Parameters
    ----------
    text
        ``auto``, ``cpu``, ``cuda``, ``cuda:N`` (N = 0, 1, ...) or ``mps``, in any case and with surrounding
        spaces ignored: ``CPU`` and ``Cuda:1`` are accepted (torch itself rejects upper case; device names carry no
        meaning in their case, and a user typing ``CPU`` means the CPU). ``cpu:0``/``mps:0`` are accepted as torch
        accepts them.

    Returns
    -------
    torch.device or None
        ``None`` for ``auto`` (the caller picks the best available).

    Raises
    ------
    InputError
        For anything else (``gpu``, ``""``, ``xla``, ``cuda:-1``), with the spellings accepted: one line, not
        torch's ``RuntimeError`` listing every backend torch was built with.
    """
    value = text.strip().lower()
    if value == "auto":
        return None
    match = _DEVICE_PATTERN.fullmatch(value)
    if match is None or (match[2] is not None and match[1] != "cuda" and match[2] != "0"):
        shown = repr(text) if text.strip() != text or not text else text
        hint = " (a GPU is cuda on NVIDIA, mps on Apple silicon)" if value == "gpu" else ""
        raise InputError(f"{option('device', shown)} is not a device seqsal can use; give {DEVICE_CHOICES}{hint}")
    return torch.device(value)


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The device to run on: the one named, else ``cuda`` > ``mps`` > ``cpu``.

    The one place a device named by the user is read (the CLI's ``--device`` of ``attribute`` and ``train``, the
    ``device=`` of the notebook API): a string goes through :func:`parse_device`.

    Parameters
    ----------
    device
        ``cuda``, ``cuda:1``, ``mps``, ``cpu`` (any case), a :class:`torch.device`, or ``None``/``"auto"`` for the
        best available.

    Returns
    -------
    torch.device
        The device named (checked to be available), or the best available one.

    Raises
    ------
    InputError
        When the device named is not a device (:func:`parse_device`) or is not available on this machine.
    """
    if isinstance(device, str):
        device = parse_device(device)
    if device is not None:
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InputError(f"{option('device', str(device))} was asked for but no CUDA GPU is available; use "
                             f"{option('device', 'cpu')}")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            count = torch.cuda.device_count()
            raise InputError(f"{option('device', str(device))} was asked for but this machine has {count} CUDA "
                             f"GPU{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})")
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


_FLOAT32_LOCK = threading.Lock()
_FLOAT32_DEPTH = [0, None]  # blocks inside full_float32 (any thread), and the settings saved by the first


def _float32_settings() -> list[tuple[object, str, object]]:
    """``(holder, attribute, full float32 value)`` of each TF32 switch: PyTorch's per-backend ``fp32_precision``
    (torch >= 2.9: reading them never raises, unlike the legacy flags and ``get_float32_matmul_precision`` once a
    user has mixed the two APIs), else the legacy ``allow_tf32`` flags."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    if hasattr(getattr(cudnn, "conv", None), "fp32_precision"):
        return [(matmul, "fp32_precision", "ieee"), (cudnn.conv, "fp32_precision", "ieee"),
                (cudnn.rnn, "fp32_precision", "ieee")]
    return [(matmul, "allow_tf32", False), (cudnn, "allow_tf32", False)]


@contextlib.contextmanager
def full_float32() -> Iterator[None]:
    """Matrix products and cuDNN convolutions in full float32 while the block runs (TF32 off), then the caller's
    settings back exactly as they were.

    review32: the legacy ``allow_tf32`` flags set after a user's ``torch.set_float32_matmul_precision("high")``
    left torch refusing to read the precision back for the rest of the process; the per-backend settings are
    saved and restored instead (:func:`_float32_settings`). Blocks may nest and run in several threads at once
    (the settings are process-wide): the first to enter saves them, the last to leave restores them. Inside the
    block PyTorch's legacy getters (``torch.backends.cudnn.allow_tf32``) may refuse to answer.
    """
    with _FLOAT32_LOCK:
        if _FLOAT32_DEPTH[0] == 0:
            settings = _float32_settings()
            _FLOAT32_DEPTH[1] = [(holder, name, getattr(holder, name)) for holder, name, _ in settings]
            for holder, name, value in settings:
                setattr(holder, name, value)
        _FLOAT32_DEPTH[0] += 1
    try:
        yield
    finally:
        with _FLOAT32_LOCK:
            _FLOAT32_DEPTH[0] -= 1
            if _FLOAT32_DEPTH[0] == 0:
                for holder, name, value in _FLOAT32_DEPTH[1]:
                    setattr(holder, name, value)


@contextlib.contextmanager
def precision_context(device: torch.device, autocast_dtype: torch.dtype | None) -> Iterator[None]:
    """Run the model at the precision asked for: autocast to ``autocast_dtype``, or true float32.

    On an NVIDIA GPU PyTorch lets cuDNN convolutions use TF32 by default (10-bit mantissa: Ampere and later), so
    "fp32" maps there were not float32 maps: measured on an H200 (``benchmarks/gpu_check.sh``), grad x input of
    a 1M-parameter CNN differed from the CPU's by 18 % of the map's largest value. Under ``None`` on a GPU the
    block runs in :func:`full_float32`.

    Parameters
    ----------
    device
        The device the model runs on.
    autocast_dtype
        ``torch.bfloat16`` / ``torch.float16`` (:func:`autocast_dtype_for`) or ``None`` for float32.
    """
    if autocast_dtype is not None:
        with torch.autocast(device_type=device.type, dtype=autocast_dtype):
            yield
    elif device.type == "cuda":
        with full_float32():
            yield
    else:
        yield


def cuda_index(device: torch.device) -> int:
    """The index of a CUDA device; ``cuda`` without one is the current device (``torch.cuda`` memory functions
    refuse an index-less device: torch 2.11 on an H200, ``--max-memory`` with ``--device cuda``)."""
    return device.index if device.index is not None else torch.cuda.current_device()


def model_home(model: nn.Module) -> torch.device | None:
    """The device of the model's first parameter or buffer; ``None`` for a module with neither."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return None


def exported_module(model: object) -> bool:
    """Whether ``model`` is or holds the module of a ``torch.export`` program (``ExportedProgram.module()``, also
    wrapped: :class:`~seqsal.models.user.FixedBatch`, a user's ``nn.Sequential``; a ``.pt2`` that
    :func:`seqsal.load_model` read is marked): its graph keeps the device it was exported on, so it runs there and
    is never moved (session 32, an H200: moved, it failed)."""
    modules = list(model.modules()) if isinstance(model, nn.Module) else [model]
    return any(getattr(module, "seqsal_exported", False) for module in modules) or any(
        kind.__name__ == "_StatefulGraphModule" for module in modules for kind in type(module).__mro__)


def device_for(requested: str | torch.device | None, model: nn.Module) -> torch.device:
    """The device a model runs on: :func:`select_device`, except that a model that cannot be moved (an exported
    program, ``.pt2``: :func:`exported_module`) runs where it is when the device is left to seqsal (``None`` /
    ``auto``).

    Parameters
    ----------
    requested
        The device asked for (``--device`` / ``device=``), ``None`` or ``"auto"`` for the best available.
    model
        The module that will run.

    Returns
    -------
    torch.device

    Raises
    ------
    InputError
        For a device that is not available (:func:`select_device`), or one named explicitly that an unmovable
        model is not on (it would fail with a device mismatch).
    """
    device = select_device(requested)
    home = model_home(model) if isinstance(model, nn.Module) and exported_module(model) else None
    if home is None or on_device(model, device):
        return device
    if requested is None or (isinstance(requested, str) and requested.strip().lower() == "auto"):
        return home
    raise InputError(f"the exported program runs on {home}, where it was exported, and cannot be moved to "
                     f"{device}; give {option('device', str(home))}, or export it on {device}")


_MISMATCH = ("same device", "device mismatch", "different from other tensors")
_DEVICE_WORDS = ("cuda", "mps", "device")  # "Input type (torch.cuda.FloatTensor) and weight type ... should be the
# same" names a device; "(torch.FloatTensor) and weight type (torch.DoubleTensor)" a dtype (review32)


def device_mismatch(error: BaseException, device: torch.device) -> str | None:
    """The message for a model that fails because a tensor it holds is not on ``device`` (seen on an H200: a
    tensor kept as a plain attribute, a TorchScript constant), else ``None``; a model on the CPU has none."""
    lines = [line.strip() for line in str(error).splitlines()
             if any(phrase in line for phrase in _MISMATCH)
             or ("should be the same" in line and any(word in line for word in _DEVICE_WORDS))]
    if device.type == "cpu" or not lines:  # (TorchScript puts the cause on a line after its own traceback)
        return None
    return (f"the model fails on {device} ({lines[0][:200]}): it holds a tensor that moving the model does not move (a "
            "plain tensor attribute rather than a registered buffer, or a constant traced into TorchScript); "
            f"register it with register_buffer, or give {option('device', 'cpu')}")


_PLACED_LOCK = threading.Lock()
_PLACED: dict[int, list] = {}  # id(model) -> [runs using it, where it goes back]


@contextlib.contextmanager
def placed(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Move ``model`` to ``device`` while the block runs and back to where it was after it (the caller's model
    is left where it was: fresh11); nothing is moved when it is there already, has no tensors, or is an exported
    program (:func:`exported_module`).

    Runs that share a model (two iterations of :func:`seqsal.iter_attributions` over one model, interleaved, or
    two threads) keep it where the first put it until the last ends (review32: the first to finish moved it back
    under the other). A model split over several devices comes back whole on its first tensor's device.
    """
    key = id(model)
    with _PLACED_LOCK:
        entry = _PLACED.get(key)
        if entry is not None:
            entry[0] += 1
        elif (not isinstance(model, nn.Module) or exported_module(model) or on_device(model, device)
              or model_home(model) is None):
            key = None  # nothing to move, nothing to put back
        else:
            entry = _PLACED[key] = [1, model_home(model)]
            try:
                model.to(device)
            except BaseException:  # review32: a move that fails part-way (out of memory) leaves no split model
                model.to(entry[1])
                del _PLACED[key]
                raise
    try:
        yield
    finally:
        if key is not None:
            with _PLACED_LOCK:
                _PLACED[key][0] -= 1
                if _PLACED[key][0] == 0:
                    model.to(_PLACED.pop(key)[1])


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
    index = cuda_index(device) if device.type == "cuda" else None if device.type == "cpu" else device.index
    tensors = [*model.parameters(), *model.buffers()]
    return bool(tensors) and all(
        t.device.type == device.type and (index is None or t.device.index == index) for t in tensors
    )


def keeps_global_rng(function):
    """Decorate a function (or a generator function) that seeds torch's global generators for its own
    reproducibility (``torch.manual_seed``): the caller's CPU and CUDA generator states are restored when it returns,
    fails or (a generator) is closed or exhausted, so that a notebook's random stream after the call still depends
    on the notebook's own seed (fresh11: every ``run_attribute`` left the stream at the run's ``--seed``).
    Uses :func:`torch.random.fork_rng` (the CUDA devices only when CUDA is already initialised)."""
    import functools
    import inspect

    def forked():
        cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
        return torch.random.fork_rng(devices=list(range(torch.cuda.device_count())) if cuda else [])

    if inspect.isgeneratorfunction(function):
        @functools.wraps(function)
        def generator(*args, **kwargs):
            with forked():
                yield from function(*args, **kwargs)
        return generator

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with forked():
            return function(*args, **kwargs)
    return wrapper
