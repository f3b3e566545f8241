"""The torch operations a model's forward pass calls, by name: what DeepLIFT's rules and Grad-CAM know of them.

A :class:`~torch.overrides.TorchFunctionMode` sees every call of a forward pass in one of several forms: a
``torch`` function (``torch.relu``), a ``Tensor`` method (``h.relu_()``), a ``torch.nn.functional`` function
(``F.relu``, which ``nn.ReLU`` calls), a property (``h.shape``) or, in the graph of a ``torch.export`` archive, an
ATen overload (``torch.ops.aten.relu.default``). :func:`op_name` gives all forms of one operation one name
(``relu``; in-place forms keep their ``_``: ``relu_``), and the tables below sort the names:

* :data:`METADATA` — no arithmetic on values (shapes, dtypes, devices);
* :data:`LINEAR` — linear (or affine) in each sequence-dependent argument; DeepLIFT takes them as they are, with
  the argument conditions of :data:`PRODUCTS`, :data:`DIVISIONS`, :data:`BATCH_NORMS` and :data:`DROPOUTS`;
* :data:`ELEMENTWISE` — elementwise nonlinearities of one sequence-dependent tensor (the rescale rule);
* :data:`MAX_POOLS` and :data:`MAX_REDUCTIONS` — maxima over windows or a dimension (the max-pool rule);
* :data:`ACTIVATIONS` — the elementwise ones that end a convolution block (Grad-CAM's default layer).

Anything else that touches a sequence-dependent tensor has no rule: DeepLIFT refuses it, naming it
(:func:`op_label`) and, for the usual suspects, why (:data:`REASONS`).
"""
from __future__ import annotations

import functools
import inspect
from typing import Any

import torch

METADATA = frozenset({
    "size", "dim", "ndimension", "numel", "nelement", "stride", "storage_offset", "is_contiguous", "element_size",
    "is_floating_point", "is_complex", "get_device", "data_ptr", "untyped_storage", "_assert", "sym_size",
    "_assert_tensor_metadata",  # fresh27c: torch.export's check after x.float() was refused by DeepSHAP
    "sym_stride", "sym_numel", "sym_storage_offset", "__len__", "__hash__", "__format__", "__repr__", "dim_order",
    "get:shape", "get:ndim", "get:dtype", "get:device", "get:is_cuda", "get:is_mps", "get:requires_grad",
    "get:layout", "get:grad_fn", "get:is_leaf", "get:names", "get:is_sparse", "get:is_quantized", "get:is_meta",
    "get:_base", "get:output_nr", "get:_version", "requires_grad_",
})

LINEAR = frozenset({
    # convolutions and dense layers (weights are constants: the parameters are frozen)
    "conv1d", "conv2d", "conv3d", "convolution", "_convolution", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "conv_tbc", "linear", "bilinear",
    # sums and differences
    "add", "add_", "__add__", "__radd__", "__iadd__", "sub", "sub_", "__sub__", "__rsub__", "__isub__", "rsub",
    "subtract", "subtract_", "neg", "neg_", "__neg__", "negative", "__pos__", "positive", "sum", "mean", "cumsum",
    "diff", "trace",
    # products and quotients with a constant (see PRODUCTS, DIVISIONS)
    "mul", "mul_", "__mul__", "__rmul__", "__imul__", "multiply", "matmul", "__matmul__", "__rmatmul__", "mm", "bmm",
    "mv", "dot", "vdot", "inner", "outer", "ger", "einsum", "tensordot", "kron", "addmm", "addmm_", "addmv",
    "addbmm", "baddbmm", "addr", "addcmul", "addcmul_", "div", "div_", "__truediv__", "__rtruediv__",
    "__itruediv__", "__div__", "true_divide", "divide", "addcdiv",
    # averages and resampling
    "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "interpolate", "upsample_nearest1d", "upsample_linear1d", "_upsample_nearest_exact1d",
    "upsample_nearest2d", "upsample_bilinear2d",
    # shape, indexing, copies, padding
    "view", "view_as", "reshape", "reshape_as", "_reshape_alias", "_unsafe_view", "flatten", "unflatten", "permute",
    "transpose", "transpose_", "t", "t_", "get:T", "get:mT", "get:H", "get:mH", "swapaxes", "swapdims", "movedim",
    "moveaxis", "squeeze", "squeeze_", "unsqueeze", "unsqueeze_", "expand", "expand_as", "broadcast_to", "repeat",
    "repeat_interleave", "tile", "contiguous", "clone", "alias", "__getitem__", "__setitem__", "__iter__", "select",
    "slice", "slice_scatter", "select_scatter", "index_select", "gather", "narrow", "narrow_copy", "split",
    "split_with_sizes", "unsafe_split", "chunk", "unbind", "tensor_split", "hsplit", "vsplit", "cat", "concat",
    "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "flip", "fliplr", "flipud", "roll",
    "rot90", "pad", "constant_pad_nd", "reflection_pad1d", "reflection_pad2d", "replication_pad1d",
    "replication_pad2d", "_pad_circular", "unfold", "diagonal", "as_strided", "masked_fill", "masked_fill_",
    "where", "index_put", "index_put_", "index_add", "scatter", "scatter_add", "copy_", "fill_", "zero_",
    "_to_copy", "to", "type", "type_as", "float", "double", "half", "bfloat16", "cpu", "cuda", "lift_fresh_copy",
    # tensors of the same shape whose values do not depend on the input's
    "zeros_like", "ones_like", "empty_like", "full_like", "new_zeros", "new_ones", "new_empty", "new_full",
    "new_tensor",
    # identity in eval mode; refused in training mode (BATCH_NORMS, DROPOUTS)
    "batch_norm", "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional",
    "_native_batch_norm_legit_no_training", "_batch_norm_impl_index", "cudnn_batch_norm", "miopen_batch_norm",
    "dropout", "dropout_", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d",
    "dropout3d", "native_dropout",
})

# products: linear when at most one factor depends on the sequence; name -> the first factor argument
PRODUCTS = {name: 0 for name in (
    "mul", "mul_", "__mul__", "__rmul__", "__imul__", "multiply", "matmul", "__matmul__", "__rmatmul__", "mm", "bmm",
    "mv", "dot", "vdot", "inner", "outer", "ger", "einsum", "tensordot", "kron", "bilinear")}
PRODUCTS.update({name: 1 for name in ("addmm", "addmm_", "addmv", "addbmm", "baddbmm", "addr", "addcmul",
                                      "addcmul_", "addcdiv")})
# quotients: linear when the denominator (this argument) does not depend on the sequence
DIVISIONS = {"div": 1, "div_": 1, "__truediv__": 1, "__itruediv__": 1, "__div__": 1, "true_divide": 1, "divide": 1,
             "__rtruediv__": 0, "addcdiv": 2}
# their "training" argument (name, position) and its default
BATCH_NORMS = {name: (("training",), 5, False) for name in (
    "batch_norm", "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_functional",
    "_batch_norm_impl_index", "cudnn_batch_norm", "miopen_batch_norm")}
DROPOUTS = {name: (("training", "train"), 2, True) for name in (
    "dropout", "dropout_", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d",
    "dropout3d", "native_dropout")}

ACTIVATIONS = frozenset({
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu",
    "gelu_", "silu", "silu_", "mish", "mish_", "sigmoid", "sigmoid_", "tanh", "tanh_", "softplus", "hardtanh",
    "hardtanh_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_", "softsign", "prelu", "_prelu_kernel",
    "rrelu", "rrelu_", "threshold", "threshold_", "clamp_min", "clamp_min_", "log_sigmoid", "logsigmoid",
})
ELEMENTWISE = ACTIVATIONS | frozenset({
    "log_sigmoid_forward", "tanhshrink", "softshrink", "hardshrink", "exp", "exp_", "exp2", "expm1", "log", "log_",
    "log2", "log10", "log1p", "sqrt", "sqrt_", "rsqrt", "square", "abs", "abs_", "__abs__", "absolute", "sin", "cos",
    "sinh", "cosh", "atan", "arctan", "erf", "erfc", "clamp", "clamp_", "clip", "clip_", "clamp_max", "clamp_max_",
    "pow", "pow_", "__pow__", "__rpow__", "__ipow__", "float_power", "reciprocal", "reciprocal_", "expit",
    "special_expit", "maximum", "minimum", "fmax", "fmin",
})
MAX_POOLS = frozenset({"max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
                       "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d"})
# maxima (and minima) over one dimension: max(h, dim), amax(h, dim); with a tensor second argument max and min
# are the elementwise maximum/minimum
MAX_REDUCTIONS = frozenset({"max", "amax", "min", "amin"})

_COMPARISON = "a comparison or ranking of sequence-dependent values: a data-dependent mask or branch"
REASONS = {
    **{name: _COMPARISON for name in (
        "gt", "lt", "ge", "le", "eq", "ne", "__gt__", "__lt__", "__ge__", "__le__", "__eq__", "__ne__", "greater",
        "less", "greater_equal", "less_equal", "equal", "isclose", "allclose", "sign", "sgn", "signbit", "heaviside",
        "argmax", "argmin", "argsort", "sort", "topk", "kthvalue", "median", "mode", "isnan", "isinf", "isfinite",
        "nonzero", "unique", "bucketize", "searchsorted", "__bool__", "item", "tolist")},
    **{name: "softmax normalises over sequence-dependent values: no DeepLIFT rule here" for name in (
        "softmax", "_softmax", "log_softmax", "_log_softmax", "softmin", "gumbel_softmax", "logsumexp")},
    **{name: "normalisation by statistics of the sequence's own activations" for name in (
        "layer_norm", "native_layer_norm", "group_norm", "native_group_norm", "instance_norm", "rms_norm",
        "_fused_rms_norm", "normalize", "local_response_norm", "norm", "linalg_vector_norm", "std", "var")},
    **{name: "attention or a recurrent layer: products of sequence-dependent tensors" for name in (
        "scaled_dot_product_attention", "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_efficient_attention", "multi_head_attention_forward", "lstm", "gru", "rnn_tanh",
        "rnn_relu")},
    **{name: "it cuts the gradient of a sequence-dependent tensor" for name in ("detach", "detach_", "get:data")},
}


def op_name(func: Any) -> str:
    """One name for every form of an operation: ``relu`` for ``torch.relu``, ``Tensor.relu``, ``F.relu`` and
    ``aten.relu.default``; ``relu_`` for the in-place forms; ``get:shape`` for the property ``Tensor.shape``.

    ATen overloads outside the ``aten`` namespace keep it (``prims::add``), so no table matches them.
    """
    if isinstance(func, torch._ops.OpOverload):
        name = func._schema.name
        return name[len("aten::"):] if name.startswith("aten::") else name
    if isinstance(func, torch._ops.OpOverloadPacket):
        name = func._qualified_op_name
        return name[len("aten::"):] if name.startswith("aten::") else name
    name = getattr(func, "__name__", None) or str(func)
    if name in ("__get__", "__set__"):
        return f"{name[2:-2]}:{getattr(getattr(func, '__self__', None), '__name__', '?')}"
    return name


def op_label(func: Any) -> str:
    """How a message names an operation: ``aten.relu.default``, ``torch.clamp_min``, ``Tensor.tanh_``,
    ``torch.nn.functional.gelu``, ``Tensor.shape``."""
    if isinstance(func, (torch._ops.OpOverload, torch._ops.OpOverloadPacket)):
        return str(func)
    name = op_name(func)
    if ":" in name:
        return f"Tensor.{name.split(':', 1)[1]}"
    qualname = getattr(func, "__qualname__", "") or ""
    module = getattr(func, "__module__", None) or ""
    if qualname.startswith(("TensorBase.", "Tensor.")) or qualname.endswith(".__getitem__"):
        return f"Tensor.{name}"
    if module in ("torch._C._nn", "torch.nn.functional"):
        return f"torch.nn.functional.{name}"
    if qualname.startswith("_VariableFunctionsClass.") or module.startswith("torch"):
        return f"torch.{name}"
    return name


@functools.lru_cache(maxsize=None)
def _signature(func: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def argument(func: Any, args: tuple, kwargs: dict, names: tuple[str, ...], position: int, default: Any = None) -> Any:
    """The value of one argument of a call, by its name (ATen schema or Python signature), else its position.

    Parameters
    ----------
    func, args, kwargs
        The call as a :class:`~torch.overrides.TorchFunctionMode` sees it.
    names
        The argument's possible names (e.g. ``("training", "train")``).
    position
        Its position when the function states no names (C++ bindings such as ``torch.batch_norm``).
    default
        Its value when the call leaves it out.
    """
    for name in names:
        if name in kwargs:
            return kwargs[name]
    schema = getattr(func, "_schema", None)
    if schema is not None:
        positions = [i for i, a in enumerate(schema.arguments) if a.name in names]
        if not positions:
            return default
        position = positions[0]
    else:
        signature = _signature(func)
        if signature is not None:
            parameters = list(signature.parameters)
            found = [i for i, name in enumerate(parameters) if name in names]
            if found:
                position = found[0]
                default = signature.parameters[parameters[position]].default
                default = None if default is inspect.Parameter.empty else default
    return args[position] if len(args) > position else default


def is_inplace(func: Any, args: tuple, kwargs: dict) -> bool:
    """Whether a call writes into its first argument: ``relu_``, ``__iadd__``, ``__setitem__``, an ATen overload
    whose schema says so, or a ``torch.nn.functional`` function called with ``inplace=True``."""
    if isinstance(func, torch._ops.OpOverload):
        return bool(func._schema.arguments) and func._schema.arguments[0].alias_info is not None \
            and func._schema.arguments[0].alias_info.is_write
    name = op_name(func)
    if name in ("__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__"):
        return True
    if name.endswith("_") and not name.startswith("__") and not name.endswith("__"):
        return True
    signature = _signature(func)
    return signature is not None and "inplace" in signature.parameters and bool(
        argument(func, args, kwargs, ("inplace",), len(signature.parameters), False))


def out_of_place(func: Any, args: tuple, kwargs: dict):
    """``(args, kwargs) -> result`` computing what the call computes without writing into its arguments.

    An in-place call (:func:`is_inplace`) is run on a copy of its first argument, or with ``inplace=False`` for a
    ``torch.nn.functional`` function; others are called as they are.
    """
    signature = _signature(func)
    if signature is not None and "inplace" in signature.parameters and not isinstance(func, torch._ops.OpOverload):
        def call(a, k):
            bound = signature.bind(*a, **k)
            bound.arguments["inplace"] = False
            return func(*bound.args, **bound.kwargs)
        return call
    if is_inplace(func, args, kwargs):
        return lambda a, k: func(a[0].clone(), *a[1:], **k)
    return lambda a, k: func(*a, **k)


def tensor_slots(args: tuple, kwargs: dict) -> list[int | str]:
    """Positions (ints) and keywords (strs) of a call's tensor arguments."""
    slots: list[int | str] = [i for i, value in enumerate(args) if isinstance(value, torch.Tensor)]
    return slots + [key for key, value in kwargs.items() if isinstance(value, torch.Tensor)]


def with_slot(args: tuple, kwargs: dict, slot: int | str, value: Any) -> tuple[tuple, dict]:
    """The call's arguments with the one at ``slot`` (see :func:`tensor_slots`) replaced by ``value``."""
    if isinstance(slot, str):
        return args, {**kwargs, slot: value}
    return args[:slot] + (value,) + args[slot + 1:], kwargs


def grad_tensors(values) -> list[torch.Tensor]:
    """The tensors among ``values`` (lists and tuples searched) that require grad: in DeepLIFT's sequence pass,
    those that depend on the sequence."""
    found = []
    for value in values:
        if isinstance(value, torch.Tensor) and value.requires_grad:
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found += grad_tensors(value)
    return found
