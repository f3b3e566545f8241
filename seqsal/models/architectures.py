"""Built-in CNN architectures for one-hot DNA ``(N, 4, L)``.

* :class:`BassetCNN` — Basset/DeepSTARR-style: convolution blocks with batch
  norm, ReLU and max-pooling, then dense layers; a fixed input length; output
  ``(N, T)`` logits, one per task.
* :class:`BPNet` — BPNet-style dilated residual CNN with a profile head
  ``(N, T, L_out)`` (logits over positions) and a counts head ``(N, T)`` (log
  total counts); any input length, ``L_out = L - 2 * trimming``.

Every architecture keeps its constructor arguments in ``self.config`` (a plain
JSON-able dict), so that a saved file can rebuild it with no user code.
"""
from __future__ import annotations

import torch
from torch import nn


def _check_sizes(**sizes) -> None:
    """Refuse layer sizes that are not positive whole numbers (``ValueError`` naming the key): a 0 channel or
    kernel failed deep in torch, a 0 pool as a division by zero."""
    for name, value in sizes.items():
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
            what = "positive whole numbers" if isinstance(value, (list, tuple)) else "a positive whole number"
            raise ValueError(f"{name} must be {what}, got {value!r}")


class BassetCNN(nn.Module):
    """Basset/DeepSTARR-style CNN (after Kelley et al. 2016, Basset; de Almeida et al. 2022, DeepSTARR).

    Input ``(N, 4, L)`` float (one-hot, rows A, C, G, T); output ``(N, T)`` logits. Each block is a same-padded
    convolution, batch norm, ReLU and max pooling; then a dense ReLU layer, dropout and a linear layer.

    Parameters
    ----------
    input_length
        Bases per input window ``L``.
    n_tasks
        Number of outputs ``T``.
    channels, kernel_sizes, pool_sizes
        One entry per convolution block.
    hidden
        Width of the dense layer.
    dropout
        Dropout after the dense layer (inactive in eval mode).
    task_names
        Optional names of the ``T`` tasks.

    Raises
    ------
    ValueError
        A size that is not a positive whole number, ``dropout`` outside [0, 1), or an ``input_length`` too short
        for the pooling.
    """

    def __init__(
        self,
        input_length: int = 500,
        n_tasks: int = 1,
        channels: tuple[int, ...] | list[int] = (64, 64, 64),
        kernel_sizes: tuple[int, ...] | list[int] = (15, 7, 5),
        pool_sizes: tuple[int, ...] | list[int] = (4, 4, 4),
        hidden: int = 64,
        dropout: float = 0.1,
        task_names: list[str] | None = None,
    ):
        super().__init__()
        _check_sizes(input_length=input_length, n_tasks=n_tasks, channels=channels, kernel_sizes=kernel_sizes,
                     pool_sizes=pool_sizes, hidden=hidden)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.config = dict(
            input_length=input_length, n_tasks=n_tasks, channels=list(channels),
            kernel_sizes=list(kernel_sizes), pool_sizes=list(pool_sizes), hidden=hidden,
            dropout=dropout, task_names=list(task_names) if task_names else None,
        )
        self.input_length = input_length
        self.task_names = self.config["task_names"]
        blocks, in_channels, length = [], 4, input_length
        for out_channels, kernel, pool in zip(channels, kernel_sizes, pool_sizes):
            blocks += [
                nn.Conv1d(in_channels, out_channels, kernel, padding=kernel // 2),
                nn.BatchNorm1d(out_channels),
                nn.ReLU(),
                nn.MaxPool1d(pool),
            ]
            in_channels = out_channels
            length = (length + 2 * (kernel // 2) - kernel + 1) // pool
        if length < 1:
            raise ValueError(f"input_length {input_length} is too short for the pooling of this architecture")
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(in_channels * length, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, n_tasks),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BPNet(nn.Module):
    """BPNet-style dilated residual CNN with profile and counts heads (after Avsec et al. 2021, BPNet).

    Input ``(N, 4, L)`` (one-hot, rows A, C, G, T; any ``L``); output ``(profile (N, T, L - 2 * trimming),
    counts (N, T))``: profile logits per position and the counts head on the mean of the trimmed features.

    Parameters
    ----------
    n_filters
        Channels of every convolution.
    n_layers
        Dilated residual layers; layer ``i`` has dilation ``2 ** (i + 1)``.
    n_tasks
        Output tracks ``T``.
    first_kernel, profile_kernel
        Kernel widths of the first convolution and of the profile head.
    trimming
        Bases dropped from each end of the profile output (BPNet uses 557 for
        an input of 2114 and an output of 1000).
    task_names
        Optional names of the ``T`` tasks.

    Raises
    ------
    ValueError
        A size that is not a positive whole number, or ``trimming`` not a whole number >= 0.
    """

    def __init__(
        self,
        n_filters: int = 64,
        n_layers: int = 8,
        n_tasks: int = 1,
        first_kernel: int = 21,
        profile_kernel: int = 75,
        trimming: int = 0,
        task_names: list[str] | None = None,
    ):
        super().__init__()
        _check_sizes(n_filters=n_filters, n_layers=n_layers, n_tasks=n_tasks, first_kernel=first_kernel,
                     profile_kernel=profile_kernel)
        if not (isinstance(trimming, int) and not isinstance(trimming, bool) and trimming >= 0):
            raise ValueError(f"trimming must be a whole number >= 0, got {trimming!r}")
        self.config = dict(
            n_filters=n_filters, n_layers=n_layers, n_tasks=n_tasks, first_kernel=first_kernel,
            profile_kernel=profile_kernel, trimming=trimming,
            task_names=list(task_names) if task_names else None,
        )
        self.input_length = None
        self.task_names = self.config["task_names"]
        self.trimming = trimming
        self.first = nn.Conv1d(4, n_filters, first_kernel, padding=first_kernel // 2)
        self.dilated = nn.ModuleList(
            nn.Conv1d(n_filters, n_filters, 3, padding=2 ** (i + 1), dilation=2 ** (i + 1))
            for i in range(n_layers)
        )
        self.profile_head = nn.Conv1d(n_filters, n_tasks, profile_kernel, padding=profile_kernel // 2)
        self.counts_head = nn.Linear(n_filters, n_tasks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.relu(self.first(x))
        for conv in self.dilated:
            h = h + torch.relu(conv(h))
        end = h.shape[-1] - self.trimming
        profile = self.profile_head(h)[:, :, self.trimming:end]
        counts = self.counts_head(h[:, :, self.trimming:end].mean(dim=-1))
        return profile, counts


ARCHITECTURES: dict[str, type[nn.Module]] = {"basset": BassetCNN, "bpnet": BPNet}


def build_model(architecture: str, config: dict | None = None) -> nn.Module:
    """Instantiate a built-in architecture by name from its config dict.

    Parameters
    ----------
    architecture
        ``basset`` (:class:`BassetCNN`) or ``bpnet`` (:class:`BPNet`).
    config
        Keyword arguments of its constructor (``None``: the defaults).

    Returns
    -------
    torch.nn.Module
        A new, randomly initialised :class:`BassetCNN` or :class:`BPNet` (in training mode).

    Raises
    ------
    InputError
        For an unknown architecture or a config key the constructor does not take.
    ValueError
        For sizes the constructor refuses (not positive whole numbers, ``dropout`` outside [0, 1), an
        ``input_length`` too short for the pooling, a negative ``trimming``).
    """
    import inspect

    from ..errors import InputError

    if architecture not in ARCHITECTURES:
        raise InputError(
            f"unknown architecture {architecture!r}; built-in architectures are {sorted(ARCHITECTURES)}"
        )
    accepted = list(inspect.signature(ARCHITECTURES[architecture]).parameters)
    unknown = sorted(set(config or {}) - set(accepted))
    if unknown:  # apidoc: Python's TypeError
        raise InputError(f"the {architecture} config has no key {', '.join(map(repr, unknown))}; its keys: "
                         f"{', '.join(accepted)}")
    return ARCHITECTURES[architecture](**(config or {}))
