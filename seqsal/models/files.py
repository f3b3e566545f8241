"""Loading and saving models without ever unpickling arbitrary objects.

Accepted model files
--------------------
* **seqsal safetensors** (``.safetensors``) written by :func:`save_model`: the
  weights plus metadata naming the built-in architecture, its config and input
  length. Loads with no user code.
* **TorchScript** archives (``torch.jit.save``). The input length is read from
  an extra file ``seqsal.json`` when present (``save_model(..., format="torchscript")``
  writes it), else it comes from ``--window`` or the region width.
* **torch.export** archives (``.pt2``, ``torch.export.save``); a static input
  length in the exported program is taken as the model's window, read on the axis
  the input layout says (``layout``), and a static batch size is kept to
  (:mod:`seqsal.models.user`).
* **A state_dict** — safetensors without seqsal metadata, or a ``torch.save``
  file read with ``torch.load(weights_only=True)`` — plus an architecture name
  and its config (JSON/YAML file or dict), or the user's own class in a Python file
  they name (``path/to/arch.py:ClassName``: the file is imported, so its code runs).

A model written for channels-last input ``(N, L, 4)`` is loaded with ``layout="nlc"``.

A ``torch.save`` file that holds anything but tensors (a pickled ``nn.Module``,
or any other object) is refused: unpickling can run code hidden in the file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import re
import warnings
import weakref
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError, option
from .architectures import ARCHITECTURES, build_model
from .user import (architecture_description, check_architecture_use, check_layout, exported_model,
                   is_architecture_file, state_mismatch, user_model, with_layout)

log = logging.getLogger("seqsal")

_METADATA_KEY = "seqsal"


@dataclass
class LoadedModel:
    """A model ready for attribution.

    Attributes
    ----------
    module
        The ``nn.Module`` (or scripted / exported module) in eval mode.
    input_length
        Bases per input window when the file declares one, else ``None``.
    task_names
        Names of the output tasks when known: a list, or a dict of lists per output of a model of several
        (:func:`seqsal.models.probes.output_task_names`).
    source
        ``"seqsal"``, ``"torchscript"``, ``"export"`` or ``"state_dict"``.
    sha256
        Hash of the model file (hex), recorded in ``run.json``.
    description
        Architecture name and config when known (for ``run.json``).
    default_target
        The target the file names as the one its model was trained on (a :class:`~seqsal.Target` string, e.g.
        ``output=1`` for a BPNet that ``seqsal train`` fitted on its counts head), or ``None``.
    """

    module: nn.Module
    input_length: int | None
    task_names: list[str] | dict[str, list[str]] | None
    source: str
    sha256: str = ""
    description: dict = field(default_factory=dict)
    default_target: str | None = None

    def target_text(self, given: str | None) -> str | None:
        """The target to explain: ``given``, else the file's :attr:`default_target` (logged), else ``None``.

        A ``given`` target that names no ``output`` takes the default's (logged): ``--target bound`` of a BPNet that
        ``seqsal train`` fitted on its counts head is that head's task, never the untrained profile head's
        (fresh24b: ``--target 0`` and task names explained the profile head's random weights)."""
        if self.default_target is None:
            return given
        if given is None:
            log.info("target: %s, the output this model was trained on (the model file says so; --target sets "
                     "another)", self.default_target)
            return self.default_target
        keys = {part.partition("=")[0].strip() for part in given.split(",") if "=" in part}
        output = [part for part in self.default_target.split(",") if part.partition("=")[0].strip() == "output"]
        if "output" in keys or not output:
            return given
        log.info("target: %s of %s, the output this model was trained on (the model file says so; --target "
                 "output=K,... picks another)", given, output[0])
        return ",".join([*output, given])


_FILES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # module -> the file load_model read it from


def model_file(module) -> str | None:
    """The model file :func:`load_model` loaded ``module`` from (the path as given), else ``None`` (a module
    built in Python): named by refusals raised where only the module is at hand (a method that cannot take it)."""
    try:
        return _FILES.get(module)
    except TypeError:  # not weakly referable: not one load_model made
        return None


def _safetensors_header(path: str) -> bool:
    """Whether the file starts as a safetensors file does (an 8-byte little-endian header length of at most
    100 MB, then the header's JSON ``{"``), whatever its name: a model saved as ``model.pt`` is still one (and a
    truncated one is then refused as truncated, not as a pickle)."""
    with open(path, "rb") as handle:
        head = handle.read(10)
    return len(head) == 10 and 2 <= int.from_bytes(head[:8], "little") <= 100_000_000 and head[8:10] == b'{"'



def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_config(config: dict | str | os.PathLike | None) -> dict | None:
    if config is None or isinstance(config, dict):
        return config
    text = Path(config).read_text()
    try:
        if str(config).endswith((".yaml", ".yml")):
            import yaml

            parsed = yaml.safe_load(text) or {}
        else:
            parsed = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise InputError(f"cannot parse architecture config ({' '.join(str(exc).split())}); give a JSON or YAML "
                         "mapping", str(config)) from None  # one line: a YAML error spans several
    if not isinstance(parsed, dict):  # a list or a number reached the architecture as its arguments
        raise InputError(f"holds a {type(parsed).__name__}, not a mapping of architecture options; give a JSON object "
                         "or YAML mapping, e.g. {\"hidden\": 64}", str(config))
    return parsed


def _new_file_mode() -> int:
    """The permission bits ``open()`` gives a new file under this process's umask: ``0o666 & ~umask``."""
    mask = os.umask(0o022)  # the only way to read the umask is to set it: put it back at once
    os.umask(mask)
    return 0o666 & ~mask


def save_model(model: nn.Module, path: str | os.PathLike, format: str = "safetensors") -> None:
    """Save a built-in model as a self-describing file.

    Parameters
    ----------
    model
        An instance of a built-in architecture (it carries ``config``).
    path
        Output file. Written under a temporary name, then renamed.
    format
        ``"safetensors"`` (weights + architecture metadata) or ``"torchscript"``
        (a traced module plus a ``seqsal.json`` extra file with the input length; traced on zeros of the model's
        ``input_length``, or 1000 bases when it has none).

    Raises
    ------
    InputError
        For an unknown ``format``, ``safetensors`` for a model that is not a built-in architecture, or a ``path``
        that is a folder; ``path`` is then left as it was.
    """
    from ..io import atomic_path

    name = next((key for key, cls in ARCHITECTURES.items() if type(model) is cls), None)
    meta = {"architecture": name, "config": getattr(model, "config", None),
            "input_length": getattr(model, "input_length", None),
            "task_names": getattr(model, "task_names", None),
            **({"default_target": model.default_target} if getattr(model, "default_target", None) else {})}
    with atomic_path(path) as tmp:
        if format == "safetensors":
            if name is None:
                raise InputError("save_model(format='safetensors') needs a built-in architecture; use torchscript")
            from safetensors.torch import save_file

            state = {key: value.detach().contiguous().cpu() for key, value in model.state_dict().items()}
            save_file(state, tmp, metadata={_METADATA_KEY: json.dumps(meta)})
            os.chmod(tmp, _new_file_mode())  # safetensors creates its file 0600; the others follow the umask
        elif format == "torchscript":
            length = meta["input_length"] or 1000
            was_training = model.training
            model.eval()
            traced = torch.jit.trace(model, torch.zeros(1, 4, length))
            model.train(was_training)
            torch.jit.save(traced, tmp, _extra_files={"seqsal.json": json.dumps(meta)})
        else:
            raise InputError(f"unknown model format {format!r}; use 'safetensors' or 'torchscript'")


_MODEL_FILES = ("a model file (seqsal .safetensors, TorchScript .pt, torch.export .pt2, or a state_dict with "
                f"{option('architecture')}/{option('model_config')})")  # option(): only inside an InputError
# what a text file given as --model most likely is, by its first non-blank characters
_TEXT_KINDS = ((">", "a FASTA file (the genome goes first: seqsal attribute GENOME REGIONS --model MODEL)"),
               ("MEME version", "a MEME motif file (for seqsal motifs --database)"),
               ("{", "JSON (an architecture config goes to --model-config)"),
               ("track", "a BED file (the regions go second: seqsal attribute GENOME REGIONS --model MODEL)"),
               ("browser", "a BED file (the regions go second: seqsal attribute GENOME REGIONS --model MODEL)"))


def _refuse_non_model(path: str) -> None:
    """Raise :class:`InputError` when ``path`` is text (a FASTA, BED, MEME or JSON file) or empty, not a model.

    Model files are binary: zip archives (TorchScript, torch.export, torch.save),
    pickles (legacy torch.save, first byte 0x80) or safetensors (an 8-byte header
    length, then JSON).
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head:
        raise InputError(f"the model file is empty; pass {_MODEL_FILES}", path)
    if head[:1] == b"\x80" or b"\x00" in head:
        return  # binary: let the loaders say what is wrong with it
    try:
        text = head.decode("utf-8").lstrip("\ufeff \t\r\n")
    except UnicodeDecodeError:
        return
    what = next((kind for prefix, kind in _TEXT_KINDS if text.startswith(prefix)), None)
    if what is None and text.split("\n", 1)[0].count("\t") >= 2:
        what = ("a tab-separated table (a BED file? the regions go second: seqsal attribute GENOME REGIONS "
                "--model MODEL)")
    raise InputError(f"this is a text file, not a model: it looks like {what or 'plain text'}; "
                     f"{option('model_path')} takes {_MODEL_FILES}", path)


def _pickled_object(detail: str) -> str:
    """`` (e.g. posix.system)``: the Python object torch's weights-only loader refused, when it names one."""
    match = re.search(r"GLOBAL ([\w.]+)", detail) or re.search(r"Unsupported global: ([\w.]+)", detail)
    return f" (e.g. {match.group(1)})" if match else ""


def _zip_kind(path: str) -> str | None:
    if not zipfile.is_zipfile(path):
        return None
    try:
        names = zipfile.ZipFile(path).namelist()
    except zipfile.BadZipFile:
        return "broken"
    if any(name.endswith("/archive_format") or name == "archive_format" for name in names):
        return "export"
    if any("/code/" in name for name in names) or any(name.endswith("constants.pkl") for name in names):
        return "torchscript"
    if any(name.endswith("data.pkl") for name in names):
        return "torch_save"
    return "unknown_zip"


def _from_state_dict(state: dict, architecture: str | None, config: dict | None, path: str) -> nn.Module:
    if architecture is None:
        raise InputError(
            f"this file holds only weights (a state_dict); also pass {option('architecture')} "
            f"({'/'.join(sorted(ARCHITECTURES))}, or your own: path/to/arch.py:ClassName) and {option('model_config')} "
            "config.json",
            path,
        )
    if is_architecture_file(architecture):  # the user's own class (models/user.py)
        return user_model(architecture, config, state, path)
    return _build_with_weights(architecture, config, state, path)


def _build_with_weights(architecture: str, config: dict | None, state: dict, path: str) -> nn.Module:
    """A built-in model from its config, with ``state`` loaded.

    The model is first built on the ``meta`` device (no memory) and its tensor
    shapes checked against the weights: a config that asks for more than the
    file holds (a hostile or mistaken file) is refused before anything is
    allocated, so a model never takes more memory than its weights.
    """
    try:
        with torch.device("meta"):
            skeleton = build_model(architecture, config)
    except Exception as exc:  # noqa: BLE001 - a config the architecture rejects (an unknown key, a size)
        raise InputError(f"config of architecture {architecture!r} is not valid: {exc}", path) from None
    detail = state_mismatch({key: tuple(value.shape) for key, value in skeleton.state_dict().items()},
                            {key: tuple(value.shape) for key, value in state.items()})
    if detail is not None:
        raise InputError(f"weights do not fit architecture {architecture!r} with this config: {detail}; give the "
                         f"{option('architecture')} and {option('model_config')} that made these weights", path)
    model = build_model(architecture, config)
    model.load_state_dict(state)
    return model


def load_model(
    path: str | os.PathLike,
    architecture: str | None = None,
    config: dict | str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    layout: str = "ncl",
) -> LoadedModel:
    """Load a model file safely (see the module docstring for the formats).

    Parameters
    ----------
    path
        Model file.
    architecture, config
        Built-in architecture name and its config (dict, or JSON/YAML path) for
        plain state_dict files; or ``path/to/arch.py:ClassName``, a Python file of the
        user's that is imported (its code runs) to build the model
        (:func:`seqsal.models.user.user_model`).
    device
        Where to map the weights.
    layout
        The input the model was written for: ``ncl`` (one-hot ``(N, 4, L)``) or
        ``nlc`` (``(N, L, 4)``, then wrapped in :class:`seqsal.models.user.ChannelsLast`,
        so that ``module`` takes ``(N, 4, L)`` like every other).

    Returns
    -------
    LoadedModel
        In eval mode, with gradients of parameters switched off.

    Raises
    ------
    InputError
        For a missing file, an unknown ``layout``, an unreadable ``config``, an architecture given for a file that
        describes itself (or none for a plain state_dict), a pickle holding Python objects (never unpickled), a
        file that is not a model, or one that fails to load (truncated; weights that do not fit the architecture;
        sizes the architecture refuses), named with the file.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise InputError(f"model file not found; pass the path of {_MODEL_FILES} with {option('model_path')}", path)
    check_layout(layout)
    config = _read_config(config)
    kind = _zip_kind(path)
    check_architecture_use(architecture, kind, path)
    safetensors_file = path.endswith(".safetensors") or (kind is None and _safetensors_header(path))
    if kind is None and not safetensors_file:
        _refuse_non_model(path)
    task_names = input_length = default_target = None
    description: dict = {"architecture": architecture, "config": config}
    try:
        if safetensors_file:
            from safetensors import safe_open
            from safetensors.torch import load_file

            with safe_open(path, framework="pt") as handle:
                metadata = handle.metadata() or {}
            state = load_file(path, device=str(device))
            if _METADATA_KEY in metadata:
                meta = json.loads(metadata[_METADATA_KEY])
                module = _build_with_weights(meta["architecture"], meta["config"], state, path)
                input_length, task_names, source = meta.get("input_length"), meta.get("task_names"), "seqsal"
                default_target = meta.get("default_target")
                description = {"architecture": meta["architecture"], "config": meta["config"]}
            else:
                module, source = _from_state_dict(state, architecture, config, path), "state_dict"
                input_length = getattr(module, "input_length", None)
                task_names = getattr(module, "task_names", None)
        elif kind == "torchscript":
            extra = {"seqsal.json": ""}
            module = torch.jit.load(path, map_location=device, _extra_files=extra)
            source = "torchscript"
            # a scripted module keeps its int and list-of-str attributes, as an nn.Module has them; seqsal.json
            # adds to them (fresh28: with it, the module's own input_length was never read: regions fed whole)
            input_length, task_names = _script_attributes(module)
            if extra["seqsal.json"]:
                meta = json.loads(extra["seqsal.json"])
                input_length = _agreeing("input_length", meta.get("input_length"), input_length, path)
                task_names = _agreeing("task_names", meta.get("task_names"), task_names, path)
                default_target = meta.get("default_target")
                description = {"architecture": meta.get("architecture"), "config": meta.get("config")}
        elif kind == "export":  # an exported program keeps no attributes: task names travel as an extra file
            extra = {"seqsal.json": ""}
            with warnings.catch_warnings():  # torch 2.11 warns of its own read-only archive buffers on stderr
                warnings.filterwarnings("ignore", message="The given buffer is not writable")
                program = torch.export.load(path, extra_files=extra)
            (module, input_length), source = exported_model(program, layout, path), "export"
            meta = json.loads(extra["seqsal.json"]) if extra["seqsal.json"] else {}
            task_names, default_target = meta.get("task_names"), meta.get("default_target")
            input_length = input_length if input_length is not None else meta.get("input_length")
        elif kind in ("torch_save", None):
            try:
                with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
                    warnings.simplefilter("ignore", UserWarning)
                    state = torch.load(path, map_location=device, weights_only=True)
            except pickle.UnpicklingError as exc:
                raise InputError(
                    f"refusing to unpickle this file: it holds Python objects{_pickled_object(str(exc))}, not only "
                    "tensors, and unpickling can run code hidden in it; convert it where you trust it: "
                    "torch.jit.save(torch.jit.script(model), 'model.pt'), torch.export.save(...), or save "
                    f"model.state_dict() and pass {option('architecture')}/{option('model_config')}",
                    path,
                ) from None
            if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
                state = state["state_dict"]
            if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise InputError("the file is not a state_dict (a mapping of names to tensors)", path)
            module, source = _from_state_dict(state, architecture, config, path), "state_dict"
            input_length = getattr(module, "input_length", None)
            task_names = getattr(module, "task_names", None)
        else:
            raise InputError(
                "unrecognised model file (a zip that is neither TorchScript, torch.export nor torch.save); "
                "it may be truncated",
                path,
            )
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors/torch raise many types for a broken file
        message = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InputError(f"cannot load model ({message}); the file may be truncated or not a model", path) from None
    if source == "state_dict" and is_architecture_file(architecture):
        description = architecture_description(architecture, config)
    module = with_layout(module, layout)
    module = module.to(device) if source != "export" else module
    if source != "export":  # an exported program keeps the mode it was exported in
        module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    _FILES[module] = path
    return LoadedModel(
        module=module, input_length=input_length, task_names=task_names, source=source,
        sha256=file_sha256(path), description=description, default_target=default_target,
    )


def _names(value) -> list[str] | None:
    return list(value) if isinstance(value, (list, tuple)) and value and all(isinstance(n, str) for n in value) \
        else None


def _script_attributes(module) -> tuple[int | None, list[str] | dict | None]:
    """A TorchScript module's ``input_length`` (an int) and ``task_names`` (a list of str, or a dict of such lists
    per output: fresh30, a scripted model's dict was dropped and its task names refused as none), where it has
    them."""
    length, names = getattr(module, "input_length", None), getattr(module, "task_names", None)
    length = length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else None
    if isinstance(names, dict) and names and all(  # an output without names has an empty list (review30)
            isinstance(key, (str, int)) and (_names(value) is not None or value == []) for key, value in names.items()):
        return length, {key: _names(value) or [] for key, value in names.items()}
    return length, _names(names)


def _comparable(value: Any) -> Any:
    """A list or a dict of lists as JSON gives it back (tuples as lists, dict keys as str); the names of output 0
    alone, ``{"0": [...]}``, as the list they are (review30: refused as disagreeing with the same list)."""
    if isinstance(value, dict):
        value = {key: item for key, item in value.items() if not (isinstance(item, (list, tuple)) and not item)}
        if len(value) == 1 and str(next(iter(value))) == "0":  # outputs without names left out (review30b)
            return _comparable(next(iter(value.values())))
        return {str(key): _comparable(item) for key, item in value.items()}
    return list(value) if isinstance(value, (list, tuple)) else value


def _agreeing(name: str, in_file: Any, on_module: Any, path: str | os.PathLike) -> Any:
    """A TorchScript archive's ``name`` from its ``seqsal.json`` or, where that leaves it out, from the scripted
    module's attribute; refused when both give it and disagree (which one the model was trained with is unknown)."""
    if in_file is None or on_module is None:
        return on_module if in_file is None else in_file
    if _comparable(in_file) != _comparable(on_module):
        raise InputError(f"the archive's seqsal.json gives {name} {in_file!r} and the scripted module's attribute "
                         f"{on_module!r}; make them agree (or leave {name} out of seqsal.json)", path)
    return on_module
