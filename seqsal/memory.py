"""The memory plan: how many windows (and path points, reference pairs, mutants) fit in ``--max-memory``.

A window's cost is measured, not guessed: one forward and backward pass of the model on one and on two windows,
counting the bytes of the tensors alive at once (a dispatch mode sees every tensor the operations make, on any
device, for ``nn.Module``, TorchScript and exported programs alike). The difference is the cost of one more
window, the rest is fixed. The engine's batch size and the methods' inner chunks are then cut to fit the budget;
the out-of-memory back-off (:class:`seqsal.engine.AdaptiveBatch`) remains the net under the estimate.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Callable

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from .errors import InputError, option

log = logging.getLogger("seqsal")

# the measured cost is multiplied by this: allocator slack, kernels' scratch memory the tensors do not show
SAFETY = 1.5
# share of the machine's memory a run plans for when --max-memory is not given
CPU_SHARE, GPU_SHARE = 0.5, 0.8
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

# per method: its inner-chunk parameter, model rows per item of that chunk, and the method's default chunk;
# and the references (or noisy samples) a window keeps window-sized arrays for
INNER_CHUNKS = {"deepshap": ("pair_batch", 2, 256), "ig": ("point_batch", 1, 512),
                "smoothgrad": ("point_batch", 1, 512), "ism": ("mutant_batch", 1, 512)}
DEFAULT_REFERENCES = {"deepshap": 20, "ig": 10, "smoothgrad": 20}


def parse_memory(text: str | int | None) -> int | None:
    """Bytes of a memory size: ``4G``, ``512M``, ``1.5GB``, ``2GiB`` or a plain number of bytes.

    Parameters
    ----------
    text
        The size (binary units: ``G`` is 2^30 bytes); an ``int`` is bytes; ``None`` stays ``None``.

    Returns
    -------
    int or None

    Raises
    ------
    InputError
        For anything else, or a size under 1 MiB.
    """
    if text is None or isinstance(text, int):
        value = text
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(?:I?B)?\s*", str(text), re.IGNORECASE)
        if not match:
            raise InputError(f"{option('max_memory')} {text!r} is not a size; write it like 4G, 512M or 1.5GB")
        value = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if value is not None and value < 1 << 20:
        raise InputError(f"{option('max_memory')} {text!r} is below 1 MiB; give at least a few hundred MB (e.g. 512M)")
    return value


def machine_memory(device: torch.device) -> int:
    """Bytes of memory the device has: the GPU's total, or the CPU's RAM (the cgroup's limit when lower).

    Total rather than free memory, so that the plan (and with it the batches and the bytes out) does not change
    from run to run with what else is running.
    """
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                limit = handle.read().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return int(total)


def default_budget(device: torch.device) -> int:
    """The budget when ``--max-memory`` is not given: :data:`CPU_SHARE` of RAM or :data:`GPU_SHARE` of the GPU."""
    return int(machine_memory(device) * (GPU_SHARE if device.type == "cuda" else CPU_SHARE))


class _LiveBytes(TorchDispatchMode):
    """Counts the bytes of the storages made inside it that are alive at once (their peak).

    ``count_meta``: also count meta tensors (their storages know their size; benchmarks/scale_costs.py sizes
    models too large to run that way)."""

    count_meta = False

    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        """False: leave ``__torch_dispatch__`` unwrapped by ``torch._dynamo.disable``, whose first call imports
        torch._dynamo (1.7 s of every run's start here; the counter never runs under ``torch.compile``). The
        opt-out torch's ``TorchDispatchMode._should_skip_dynamo`` documents; older torch never asks."""
        return False

    def __init__(self):
        super().__init__()
        self.alive: dict[int, tuple[StorageWeakRef, int]] = {}
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor) and (self.count_meta or tensor.device.type != "meta"):
                storage = tensor.untyped_storage()
                ref = StorageWeakRef(storage)
                self.alive.setdefault(ref.cdata, (ref, storage.nbytes()))
        self.alive = {key: value for key, value in self.alive.items() if not value[0].expired()}
        self.peak = max(self.peak, sum(size for _, size in self.alive.values()))
        return out


def peak_bytes(function: Callable[[], object]) -> int:
    """Peak bytes of the tensors ``function()`` makes and holds at once (inputs and parameters not counted)."""
    with _LiveBytes() as counter:
        function()
    return counter.peak


@dataclass(frozen=True)
class WindowCost:
    """Measured memory of one forward+backward pass: ``fixed + per_window * N`` bytes for ``N`` windows."""

    per_window: int
    fixed: int


def measure_window_cost(probe: Callable[[torch.Tensor], object], width: int, device: torch.device) -> WindowCost | None:
    """The memory of ``probe`` (a forward and backward pass) on one and on two zero windows of ``width`` bases.

    Returns
    -------
    WindowCost or None
        ``None`` when the probe fails (the plan is then skipped; the back-off still applies).
    """
    try:
        one = peak_bytes(lambda: probe(torch.zeros(1, 4, width, device=device)))
        two = peak_bytes(lambda: probe(torch.zeros(2, 4, width, device=device)))
    except Exception as error:  # noqa: BLE001 - a model the counter cannot follow: no plan, not a failure
        log.debug("memory probe failed (%s): batches are not sized to --max-memory", error)
        return None
    per_window = max(two - one, 1, one // 2)
    return WindowCost(int(per_window * SAFETY), int(max(0, one - per_window) * SAFETY))


@dataclass(frozen=True)
class MemoryPlan:
    """Batch size and inner chunks that fit the budget.

    Attributes
    ----------
    batch_size
        Windows per batch (never above the one asked for).
    inner
        The method's inner-chunk parameter and its value (``point_batch``, ``pair_batch``, ``mutant_batch``),
        or ``None``.
    budget, cost
        The budget in bytes and the measured cost it was divided by.
    """

    batch_size: int
    inner: tuple[str, int] | None
    budget: int
    cost: WindowCost


def below_one_window(budget: int, cost: WindowCost, rc: bool) -> int | None:
    """The bytes one window needs (``fixed + per_window``, twice the window with ``rc``) when ``budget`` is below
    them, else None: such a budget cannot be kept whatever the batch (windows then go one at a time)."""
    need = cost.fixed + cost.per_window * (2 if rc else 1)
    return need if budget < need else None


def plan_memory(method: str, params: dict, rc: bool, batch_size: int, budget: int, cost: WindowCost, width: int,
                accepts: Callable[[str], bool] = lambda name: True) -> MemoryPlan:
    """Fit a batch of windows of ``method`` into ``budget`` bytes.

    Gradient methods (saliency, grad x input, Grad-CAM) pass a batch through the model at once: the batch is what
    fits (halved again with ``rc``: both strands go through together). Methods with inner chunks (DeepSHAP's
    reference pairs, IG's path points, SmoothGrad's noisy copies, ISM's mutants) pass at most a chunk through the
    model at once: half the budget goes to the chunk, the other half to what each window keeps (its references,
    multipliers: about ``3 R + 4`` window-sized float32 arrays).

    Parameters
    ----------
    method, params, rc
        The method, its parameters (``references``, ``samples``, and an inner chunk if given: kept if smaller),
        and strand averaging.
    batch_size
        The largest batch asked for.
    budget
        Bytes.
    cost
        :func:`measure_window_cost`.
    width
        Window width in bases.
    accepts
        Whether the method takes a parameter of this name (the inner chunk is set only then).

    Returns
    -------
    MemoryPlan
    """
    strands = 2 if rc else 1
    rows = max(1, (budget - cost.fixed) // max(1, cost.per_window))
    chunk = INNER_CHUNKS.get(method)
    if chunk is None or not accepts(chunk[0]):
        return MemoryPlan(max(1, min(batch_size, rows // strands)), None, budget, cost)
    name, rows_per_item, default = chunk
    inner = max(1, min(int(params.get(name, default)), rows // 2 // rows_per_item))
    references = params.get("references", DEFAULT_REFERENCES.get(method, 1))
    if method == "smoothgrad":
        references = params.get("samples", DEFAULT_REFERENCES["smoothgrad"])
    if params.get("baseline") in ("zero", "uniform") or not isinstance(references, int):
        references = 1
    keeps = (3 * references + 4) * 16 * width * strands
    return MemoryPlan(max(1, min(batch_size, budget // 2 // keeps)), (name, inner), budget, cost)
