"""A cheap value that changes whenever a model changes: what a cached trace of the model depends on.

Used to key the caches that hold something traced from a model, which a changed model must not reuse: the ISM fast
path's plan (:mod:`seqsal.methods.ism`), the sigmoid's logit rewrite (:mod:`seqsal.models.logit_output`) and the
gradient check's verdict (:mod:`seqsal.methods.gradient_check`).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

_OWN = frozenset({"_parameters", "_buffers", "_modules"})  # read through named_parameters/buffers/modules
_PLAIN = (int, float, bool, str, type(None), torch.dtype, torch.device)


def _state(value: Any, depth: int = 0) -> Any:
    """A cheap, comparable summary of one attribute: plain values as they are, tensors by identity, storage and
    in-place version, a plain object (a config, a namespace) by its own attributes, anything else by identity."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, torch.Tensor):
        try:
            storage = value.data_ptr()
        except RuntimeError:  # e.g. a sparse tensor: identity and version only
            storage = None
        return id(value), value._version, storage, tuple(value.shape), value.dtype, value.device
    if isinstance(value, (tuple, list)) and depth < 2 and len(value) <= 16:
        return type(value), tuple(_state(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 2 and len(value) <= 16:  # e.g. hooks: their handles
        return type(value), tuple((k, _state(v, depth + 1)) for k, v in value.items())
    if (depth < 2 and not isinstance(value, (nn.Module, type)) and not callable(value)
            and isinstance(getattr(value, "__dict__", None), dict) and len(vars(value)) <= 32):
        # review28: self.cfg.temperature changed in place kept a trace of the old value
        # its tensors left out: a recorder object (self.rec.last = h.detach()) changed it on every forward, and no
        # cache ever hit (review28b: a run 3x slower)
        return type(value), id(value), tuple((k, _state(v, depth + 1)) for k, v in vars(value).items()
                                             if not isinstance(v, torch.Tensor))
    return type(value), id(value)


def _read_by_class(kind: type) -> tuple:
    """The plain values a module's class holds (class attributes, over its user-defined bases) and the module
    globals its ``forward`` names: what a trace bakes in besides the instance (review28: a class attribute or a
    global changed between two calls kept a stale trace)."""
    values = []
    for base in kind.__mro__:
        if base.__module__.startswith("torch.") or base is object:
            continue
        values.extend((base.__name__, name, _state(value)) for name, value in vars(base).items()
                      if isinstance(value, (*_PLAIN, torch.Tensor, tuple, list, dict)) and not name.startswith("__"))
    forward = getattr(kind, "forward", None)
    code, names = getattr(forward, "__code__", None), getattr(forward, "__globals__", None)
    if code is not None and isinstance(names, dict):
        values.extend(("global", name, _state(names[name])) for name in code.co_names
                      if name in names and isinstance(names[name], (*_PLAIN, torch.Tensor)))
    return tuple(values)


def model_fingerprint(model: nn.Module) -> tuple:
    """What a traced plan of ``model`` depends on, as a value that changes whenever the model changes.

    Every submodule (its name, type, training flag, hooks and other attributes: ``stride``, a float read in
    ``forward``, a config object's fields, ...), the plain class attributes of each submodule's class and the
    plain module globals its ``forward`` names, and every parameter and buffer (its name, identity, storage, shape
    and in-place version counter, which an optimizer step or ``load_state_dict`` advances). Costs about a
    microsecond per attribute; reads no weight.

    Parameters
    ----------
    model
        Any module (a TorchScript module too).

    Returns
    -------
    tuple
        Equal for two calls only when nothing listed above changed in between (a write through ``.data`` escapes
        the version counter; a plan reads such values afresh for every sequence anyway).
    """
    hooks = nn.modules.module
    modules = tuple((name, type(module), tuple((k, _state(v)) for k, v in vars(module).items() if k not in _OWN))
                    for name, module in model.named_modules(remove_duplicate=False))
    classes = tuple(_read_by_class(kind) for kind in dict.fromkeys(kind for _, kind, _ in modules))
    tensors = tuple((name, _state(tensor)) for name, tensor in model.named_parameters(remove_duplicate=False))
    buffers = tuple((name, _state(tensor)) for name, tensor in model.named_buffers(remove_duplicate=False))
    return (modules, classes, tensors, buffers, _state(hooks._global_forward_hooks),
            _state(hooks._global_forward_pre_hooks))
