"""Architectures of the calibration zoo: models that differ where attribution tracks differ.

Input of every model: one-hot DNA ``(N, 4, L)`` (A, C, G, T). The Basset-like and BPNet-style models are
seqsal's built-in :class:`seqsal.models.BassetCNN` / :class:`seqsal.models.BPNet` (so they can also be
shipped as a plain state_dict + ``--architecture`` config); the others are here and are shipped as
TorchScript (``torch.jit.script``), as a user who trained them elsewhere would bring them.

* :class:`RCMaxPoolCNN` — the model of issue 13, item 1: a reverse-complement weight-tied convolution
  (64 filters x 19 bp; each filter also scanned as its reverse complement, as in RC parameter sharing,
  Shrikumar et al. 2017), BatchNorm shared by both strands, ReLU, the max over the two strands, max-pool 50,
  global max + mean pooling, dense 64, dense 1. Exactly invariant to reverse-complementing a window whose
  length is a multiple of 50. Max-pooling routes the gradient to one base per pool and channel: spiky,
  sparse attribution tracks.
* :class:`ConjoinedRCCNN` — a "conjoined" (siamese) reverse-complement model: one small dilated CNN applied
  to the sequence and to its reverse complement, outputs averaged (Mallet & Vert 2021; Zhou et al. 2021).
* :class:`SigmoidClassifier` — a globally pooled CNN whose ``forward`` returns a *probability* (sigmoid inside
  the model),
  trained with BCE on ``logit``: saturating outputs, the hard case for gradient attributions.
* :class:`DilatedResidualCNN` — a long-window (10 kb) model: convolution, average-pool 8, dilated residual
  blocks (dilations 1-32 at 8-bp resolution: each pooled position sees +-511 bp), global average pooling,
  dense. Fully convolutional: its output is an activity per kb, at any input length.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from seqsal.models import BassetCNN, BPNet


def reverse_complement(x: torch.Tensor) -> torch.Tensor:
    """Reverse complement of one-hot ``(N, 4, L)`` with channels A, C, G, T: flip channels and positions."""
    return torch.flip(x, dims=[1, 2])


class RCMaxPoolCNN(nn.Module):
    """RC weight-tied conv -> BatchNorm -> ReLU -> strand max -> max-pool -> global max + mean -> dense -> 1.

    Parameters
    ----------
    filters, kernel
        Filters of the convolution and their width (bp, odd).
    pool
        Max-pool width (bp); the input length should be a multiple of it for exact RC invariance.
    hidden
        Width of the dense layer.

    Input ``(N, 4, L)``; output ``(N, 1)`` (a regression of the window's activity).
    """

    def __init__(self, filters: int = 64, kernel: int = 19, pool: int = 50, hidden: int = 64):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(filters, 4, kernel) * (2.0 / (4 * kernel)) ** 0.5)
        self.bias = nn.Parameter(torch.zeros(filters))
        self.norm = nn.BatchNorm1d(filters)
        self.pool = pool
        self.padding = kernel // 2
        self.dense = nn.Linear(2 * filters, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        forward_strand = F.conv1d(x, self.weight, self.bias, padding=self.padding)
        reverse_strand = F.conv1d(x, torch.flip(self.weight, dims=[1, 2]), self.bias, padding=self.padding)
        h = torch.relu(self.norm(torch.cat([forward_strand, reverse_strand], dim=0)))
        h = torch.maximum(h[:n], h[n:])
        h = F.max_pool1d(h, self.pool)
        features = torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=1)
        return self.out(torch.relu(self.dense(features)))


class ConjoinedRCCNN(nn.Module):
    """``(g(x) + g(rc(x))) / 2`` with ``g``: conv 15 -> ReLU -> max-pool 2 -> dilated convs -> mean -> dense.

    Parameters
    ----------
    channels
        Channels of the convolutions.

    Input ``(N, 4, L)``; output ``(N, 1)``. Receptive field of ``g``: 71 bp (a cooperative pair fits).
    """

    def __init__(self, channels: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(4, channels, 15, padding=7), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(channels, channels, 7, padding=6, dilation=2), nn.ReLU(),
            nn.Conv1d(channels, channels // 2, 5, padding=8, dilation=4), nn.ReLU(),
        )
        self.head = nn.Linear(channels // 2, 1)

    def strand(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean(dim=-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.strand(x) + self.strand(reverse_complement(x)))


class SigmoidClassifier(nn.Module):
    """Two conv blocks (conv -> BatchNorm -> ReLU; max-pool 4 after the first) -> global max + mean ->
    dense -> 1, then a sigmoid.

    ``forward``: ``(N, 4, L)`` -> ``(N, 1)`` probabilities in (0, 1); ``logit`` the same before the sigmoid
    (what it is trained on, with BCE).
    """

    def __init__(self, channels: int = 48, hidden: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(4, channels, 15, padding=7), nn.BatchNorm1d(channels), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(channels, channels, 7, padding=3), nn.BatchNorm1d(channels), nn.ReLU(),
        )
        self.dense = nn.Linear(2 * channels, hidden)
        self.out = nn.Linear(hidden, 1)

    @torch.jit.export
    def logit(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.out(torch.relu(self.dense(torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logit(x))


class ResidualBlock(nn.Module):
    """``h + ReLU(BatchNorm(conv_dilated(h)))`` (kernel 3)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + torch.relu(self.norm(self.conv(h)))


class DilatedResidualCNN(nn.Module):
    """Long-window model: conv 15 -> BatchNorm -> ReLU -> avg-pool 8 -> dilated residual blocks -> mean -> dense.

    Parameters
    ----------
    channels
        Channels throughout.
    dilations
        One residual block per dilation (at the pooled resolution: 8 bp per position).

    Input ``(N, 4, L)`` (trained at L = 10,000); output ``(N, 1)``.
    """

    def __init__(self, channels: int = 32, dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32), pool: int = 8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(4, channels, 15, padding=7), nn.BatchNorm1d(channels), nn.ReLU(),
                                  nn.AvgPool1d(pool))
        self.blocks = nn.Sequential(*[ResidualBlock(channels, d) for d in dilations])
        self.head = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean(dim=-1))


def basset(input_length: int = 500) -> BassetCNN:
    """seqsal's Basset-like CNN with small pools (2, 2, 2): output ``(N, 1)``, task ``activity``."""
    return BassetCNN(input_length=input_length, n_tasks=1, channels=(32, 32, 32), kernel_sizes=(15, 7, 5),
                     pool_sizes=(2, 2, 2), hidden=64, dropout=0.2, task_names=["activity"])


def bpnet(trimming: int = 150) -> BPNet:
    """seqsal's BPNet-style model (24 filters, 5 dilated layers: receptive field +-109 bp of an output base):
    profile ``(N, 1, L - 2 * trimming)`` logits and counts ``(N, 1)`` log reads."""
    return BPNet(n_filters=24, n_layers=5, n_tasks=1, first_kernel=21, profile_kernel=75, trimming=trimming,
                 task_names=["signal"])


def parameter_count(model: nn.Module) -> int:
    """Number of trainable and frozen parameters (buffers not counted)."""
    return int(sum(p.numel() for p in model.parameters()))
