"""What models that users bring need: their input layout, a fixed batch, and their own architecture files.

* :class:`ChannelsLast` — a model written for one-hot DNA ``(N, L, 4)`` (channels last, ``--layout nlc``)
  presented as one that takes seqsal's ``(N, 4, L)``: one transpose in front of it, so every attribution method
  works unchanged (gradients, DeepSHAP's rules and ISM see the transpose as the linear operation it is).
* :class:`FixedBatch` — a ``torch.export`` program exported with a static batch size (the default of
  ``torch.export.export``) run on any number of sequences: cut into batches of that size, the last one padded
  with zeros, and the padding dropped from the outputs.
* :func:`exported_model` — the module of an exported program, its input length and layout read from the
  shape it was exported with (an ``(N, L, 4)`` program is recognised, never read as length 4).
* :func:`user_model` — a model built from a Python file and class the user names
  (``--architecture path/to/arch.py:ClassName``), its config (``--model-config``) and a state_dict. Importing
  the file runs its code: seqsal does it only because the user named the file, never for a file it merely
  reads (weights are still never unpickled).
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import traceback
import types
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError, option
from ..provenance import file_digest

log = logging.getLogger("seqsal")

LAYOUTS = ("ncl", "nlc")
LAYOUT_SHAPES = {"ncl": "(N, 4, L)", "nlc": "(N, L, 4)"}
_LAYOUT_WORDS = {"ncl": "channels first", "nlc": "channels last"}


def check_layout(layout: str) -> str:
    """``layout`` itself when it is ``ncl`` or ``nlc``; :class:`InputError` otherwise."""
    if layout not in LAYOUTS:
        raise InputError(f"unknown {option('layout')} {layout!r}; choose ncl (one-hot (N, 4, L), the default) or nlc "
                         "(channels last, (N, L, 4))")
    return layout


def layout_hint(layout: str) -> str:
    """The layout and what to pass for it: ``one-hot DNA channels last, (N, L, 4); pass --layout nlc``."""
    advice = ("pass --layout nlc (API: layout='nlc', or wrap a module: seqsal.models.user.ChannelsLast(model))"
              if layout == "nlc" else "drop --layout nlc (the default is --layout ncl; API: layout='ncl')")
    return f"one-hot DNA {_LAYOUT_WORDS[layout]}, {LAYOUT_SHAPES[layout]}; {advice}"


class _Transparent(nn.Module):
    """A wrapper that lists the wrapped model's submodules under their own names (``--layer``, error messages,
    sanity checks name the user's layers), and stays out of the way of exported programs' fixed mode."""

    model: nn.Module

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        return self.model.named_modules(memo, prefix, remove_duplicate)

    def train(self, mode: bool = True):
        self.training = mode
        try:
            self.model.train(mode)
        except NotImplementedError:  # torch.export programs keep the mode they were exported in
            pass
        return self


class ChannelsLast(_Transparent):
    """A model that takes one-hot DNA ``(N, L, 4)``, presented as taking ``(N, 4, L)``.

    Parameters
    ----------
    model
        The user's model, taking ``(N, L, 4)`` (channels last).

    ``forward(x)`` with ``x`` ``(N, 4, L)`` returns ``model(x.transpose(1, 2))``: the same outputs, and
    gradients with respect to ``x`` in seqsal's layout.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return self.model(x.transpose(1, 2))


class _ScriptedChannelsLast(nn.Module):
    """:class:`ChannelsLast` for TorchScript models, itself scripted (so that it stays TorchScript: methods that
    need Python operations, as DeepSHAP's rules, still recognise and refuse it)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return self.model(x.transpose(1, 2))


def with_layout(module: nn.Module, layout: str) -> nn.Module:
    """``module`` as a model of ``(N, 4, L)``: itself for ``ncl``, wrapped in :class:`ChannelsLast` for ``nlc``.

    A TorchScript module gets a scripted wrapper (it stays a ``torch.jit.ScriptModule``).
    """
    if check_layout(layout) == "ncl":
        return module
    if isinstance(module, torch.jit.ScriptModule):
        return torch.jit.script(_ScriptedChannelsLast(module))
    return ChannelsLast(module)


def _rows(output, count: int):
    """The first ``count`` rows of every tensor of a model output (tensor, tuple/list or dict of them)."""
    if isinstance(output, torch.Tensor):
        return output[:count]
    if isinstance(output, dict):
        return {key: _rows(value, count) for key, value in output.items()}
    if isinstance(output, (tuple, list)):
        return type(output)(_rows(value, count) for value in output)
    return output


def _joined(parts: list):
    """Model outputs of consecutive batches joined along the batch axis (same structure as each part)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    if isinstance(first, torch.Tensor):
        return torch.cat(parts, dim=0)
    if isinstance(first, dict):
        return {key: _joined([part[key] for part in parts]) for key in first}
    if isinstance(first, (tuple, list)):
        return type(first)(_joined(list(column)) for column in zip(*parts))
    return first


class FixedBatch(_Transparent):
    """A model that runs only on batches of one size (a ``torch.export`` program with a static batch).

    Parameters
    ----------
    model
        The model; it takes ``(batch, ...)``.
    batch
        Its batch size.

    ``forward(x)`` takes any number of sequences: ``x`` is cut into batches of ``batch`` rows, the last one
    padded with zeros; the outputs (a tensor, tuple or dict) are joined and the padding rows dropped. A
    sequence's output does not depend on the padding when the model treats rows independently (eval mode).
    """

    def __init__(self, model: nn.Module, batch: int):
        super().__init__()
        self.model, self.batch = model, int(batch)

    def forward(self, x: torch.Tensor):
        parts = []
        for first in range(0, max(x.shape[0], 1), self.batch):
            chunk = x[first:first + self.batch]
            rows = chunk.shape[0]
            if rows < self.batch:
                chunk = torch.cat([chunk, chunk.new_zeros((self.batch - rows, *chunk.shape[1:]))], dim=0)
            parts.append(_rows(self.model(chunk), rows))
        return _joined(parts)


def static_batch(model: nn.Module) -> int | None:
    """The batch size a model runs on when it is (or wraps) a :class:`FixedBatch`, else ``None``.

    Methods that read a model's inner feature maps (Grad-CAM) feed such a model exactly that many rows at a
    time: :class:`FixedBatch` pads a shorter batch, and the padding rows would show in the feature maps.
    """
    while model is not None:
        if isinstance(model, FixedBatch):
            return model.batch
        model = getattr(model, "model", None) if isinstance(model, _Transparent) else None
    return None


def exported_input_shape(program) -> tuple[int | None, ...] | None:
    """Shape of the first user input of a ``torch.export`` program (``None`` for a dynamic dim; ``None`` when
    the program records none)."""
    user_inputs = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user_inputs:
            shape = getattr(node.meta.get("val"), "shape", None)
            if shape is None:
                return None
            return tuple(int(size) if isinstance(size, int) else None for size in shape)
    return None


def _dims(shape: tuple[int | None, ...]) -> str:
    names = ["N"] + ["L"] * (len(shape) - 1)
    return "(" + ", ".join(str(size) if size is not None else names[i] for i, size in enumerate(shape)) + ")"


def exported_model(program, layout: str, path: str) -> tuple[nn.Module, int | None]:
    """The module of a ``torch.export`` program and its input length, checked against the input layout.

    Parameters
    ----------
    program
        A loaded ``torch.export.ExportedProgram``.
    layout
        ``ncl`` (input ``(N, 4, L)``) or ``nlc`` (``(N, L, 4)``): which axis of the exported input holds the
        four bases.
    path
        The model file (for messages).

    Returns
    -------
    module, input_length
        ``program.module()`` (in :class:`FixedBatch` when its batch size is static) and the static input
        length, or ``None`` when it is dynamic.

    Raises
    ------
    InputError
        When the exported input is not one-hot DNA in ``layout``: the message names the shape, and the
        layout to pass when the four bases are on the other axis.
    """
    shape = exported_input_shape(program)
    module = program.module()
    module.seqsal_exported = True  # seqsal.devices.exported_module: never moved (torch < 2.3 names no class)
    if shape is None:
        return module, None
    if len(shape) != 3:
        raise InputError(f"the exported model takes an input of shape {_dims(shape)}, not one-hot DNA (N, 4, L) or "
                         "(N, L, 4); export it for one-hot DNA", path)
    channels, length = (shape[1], shape[2]) if layout == "ncl" else (shape[2], shape[1])
    if (channels is not None and channels != 4) or (channels is None and length == 4):
        other = "nlc" if layout == "ncl" else "ncl"
        if length == 4:  # the four bases are on the other axis
            raise InputError(f"the exported model takes input of shape {_dims(shape)}: {layout_hint(other)}", path)
        raise InputError(f"the exported model takes input of shape {_dims(shape)}, not one-hot DNA with 4 channels "
                         f"(A, C, G, T) {LAYOUT_SHAPES[layout]}; export a model of one-hot DNA", path)
    if shape[0] is not None:
        module = FixedBatch(module, shape[0])
        if shape[0] < 32:  # fresh11: a batch of 2 made DeepSHAP's shuffled null 130x slower than a dynamic batch
            log.warning("%s was exported with a fixed batch of %d: every model call takes %d window(s), which makes "
                        "large batches (DeepSHAP's references, the shuffled null) slow; export it with a dynamic "
                        "batch (torch.export.export(..., dynamic_shapes=({0: torch.export.Dim('batch')},)))",
                        path or "the model", shape[0], shape[0])
    return module, length


# ------------------------------------------------------------------------------- user architecture files


def is_architecture_file(architecture: str | None) -> bool:
    """Whether ``--architecture`` names a Python file (``path/to/arch.py:ClassName``) rather than a built-in."""
    if not isinstance(architecture, str):
        return False
    path = architecture.rpartition(":")[0] if ":" in architecture else architecture
    return path.endswith(".py")


_LOCAL_IMPORTS: dict[str, set[str]] = {}  # architecture file -> the files of its folder its import loaded


def _local_files(module, before: set[str], folder: Path) -> set[str]:
    """The Python files under ``folder`` (site-packages aside) whose modules importing ``module`` loaded (new in
    ``sys.modules``), or that ``module`` names (a module, or a class or function of one, imported earlier)."""
    names = set(sys.modules) - before
    for value in vars(module).values():
        names.add(value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None))
    found = set()
    for name in names - {module.__name__, None}:
        file = getattr(sys.modules.get(name), "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        resolved = Path(file).resolve()
        if resolved.is_relative_to(folder) and not {"site-packages", "dist-packages"} & set(resolved.parts):
            found.add(str(resolved))
    return found


def _import_file(path: str):
    """Import the Python file ``path`` (its folder first on ``sys.path`` meanwhile, for its own imports)."""
    resolved = str(Path(path).resolve())
    name = "seqsal_architecture_" + hashlib.sha1(resolved.encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, resolved)
    module = importlib.util.module_from_spec(spec)
    folder = str(Path(resolved).parent)
    sys.path.insert(0, folder)
    sys.modules[name] = module  # dataclasses and typing look the module up while it runs
    before = set(sys.modules)
    try:
        spec.loader.exec_module(module)
        _LOCAL_IMPORTS.setdefault(resolved, set()).update(_local_files(module, before, Path(folder)))
    except Exception as exc:  # noqa: BLE001 - any failure of the user's file is reported with its line
        sys.modules.pop(name, None)
        line = exc.lineno if isinstance(exc, SyntaxError) else next(
            (frame.lineno for frame in reversed(traceback.extract_tb(exc.__traceback__))
             if frame.filename == resolved), None)
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}" if str(exc) else type(exc).__name__
        raise InputError(f"cannot import the architecture file ({detail}); fix the file, or install what it imports",
                         path, line) from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def architecture_class(architecture: str) -> type[nn.Module]:
    """The ``nn.Module`` class named by ``path/to/arch.py:ClassName`` (importing the file runs its code).

    Raises
    ------
    InputError
        When the file is missing or fails to import (with its line), or names no such ``nn.Module`` class (the
        message lists the file's classes).
    """
    path, _, name = architecture.rpartition(":") if ":" in architecture else (architecture, "", "")
    if not os.path.isfile(path):
        raise InputError(f"architecture file not found; {option('architecture')} takes a built-in name (basset, "
                         "bpnet) or path/to/arch.py:ClassName", path)
    module = _import_file(path)
    classes = sorted(key for key, value in vars(module).items() if isinstance(value, type)
                     and issubclass(value, nn.Module) and value.__module__ == module.__name__)
    listed = ", ".join(classes) if classes else "none"
    if not name:
        raise InputError(f"name the model class after the file: {option('architecture', path + ':ClassName')} "
                         f"(its nn.Module classes: {listed})", path)
    found = getattr(module, name, None)
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        what = "no class" if found is None else "not an nn.Module class:"
        raise InputError(f"{what} {name!r} in the architecture file; its nn.Module classes: {listed}", path)
    return found


def state_mismatch(expected: dict[str, tuple], given: dict[str, tuple]) -> str | None:
    """How the tensor shapes of a state_dict differ from a model's (``None``: they fit)."""
    if expected == given:
        return None
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    wrong = [key for key in sorted(set(expected) & set(given)) if expected[key] != given[key]]
    def first(keys: list[str]) -> str:  # fresh25b: a list cut at 3 keys read as the whole of it
        return str(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")

    if missing:
        return f"missing {first(missing)}" + (f", the file has {first(extra)} instead" if extra else "")
    if extra:
        return f"unexpected {first(extra)}"
    return f"{wrong[0]} is {list(given[wrong[0]])} in the file, the config makes it {list(expected[wrong[0]])}"


def check_architecture_use(architecture: str | None, kind: str | None, path: str) -> None:
    """Refuse an architecture file with a model file that holds its own model (TorchScript, ``torch.export``)."""
    if is_architecture_file(architecture) and kind in ("torchscript", "export"):
        what = "a TorchScript" if kind == "torchscript" else "a torch.export"
        raise InputError(f"this is {what} archive, which holds its own model, but "
                         f"{option('architecture', architecture)} builds one for a state_dict; drop "
                         f"{option('architecture')} and {option('model_config')}", path)


def architecture_description(architecture: str, config: dict | None) -> dict:
    """What ``run.json`` records of a user architecture: ``architecture`` as ``/absolute/path/arch.py:ClassName``,
    the file's ``architecture_sha256``, the ``config`` and, when importing the file loaded Python files of its
    own folder (a lab's ``layers.py`` beside ``arch.py``), ``architecture_imports``: their paths relative to that
    folder and their SHA-256, so that a resume, ``seqsal evaluate`` or ``check-seqlets`` refuses a model whose
    helper module changed (fresh24: a resume mixed two models in one folder). Call after :func:`user_model`
    imported the file."""
    file, _, name = architecture.rpartition(":")
    resolved = Path(file).resolve()
    description = {"architecture": f"{resolved}:{name}", "architecture_sha256": file_digest(resolved), "config": config}
    imports = {os.path.relpath(local, resolved.parent): file_digest(local)
               for local in sorted(_LOCAL_IMPORTS.get(str(resolved), ())) if os.path.isfile(local)}
    return {**description, "architecture_imports": imports} if imports else description


def user_model(architecture: str, config: dict | None, state: dict, path: str) -> nn.Module:
    """A model of a user's architecture file with a state_dict loaded.

    Parameters
    ----------
    architecture
        ``path/to/arch.py:ClassName``. The file is imported (its code runs) and ``ClassName(**config)`` built.
    config
        Keyword arguments of the class (``--model-config``, JSON/YAML); ``None``: none.
    state
        The weights (names to tensors), as ``model.state_dict()`` wrote them.
    path
        The weights file (for messages).

    Returns
    -------
    nn.Module
        The model with the weights loaded (its ``input_length`` and ``task_names`` attributes, when it has
        them, are the window and task names seqsal uses).

    Raises
    ------
    InputError
        For a file that does not import or lacks the class, a config the class rejects, or weights whose
        names or shapes do not fit the model.
    """
    cls = architecture_class(architecture)
    file, _, name = architecture.rpartition(":")
    if config is not None and not isinstance(config, dict):
        raise InputError(f"the architecture config must be a mapping of {name}'s arguments, got "
                         f"{type(config).__name__}", path)
    try:
        model = cls(**(config or {}))
    except Exception as exc:  # noqa: BLE001 - the class rejects its config: the user's to fix
        raise InputError(f"{name}(**config) failed ({type(exc).__name__}: {str(exc)[:200]}); give "
                         f"{option('model_config')} with {name}'s arguments", file) from None
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    problem = state_mismatch(expected, {key: tuple(value.shape) for key, value in state.items()})
    if problem is not None:
        raise InputError(f"weights do not fit {name} of {Path(file).name} with this config: {problem}; give the "
                         f"class and {option('model_config')} that made these weights", path)
    model.load_state_dict(state)
    return model
