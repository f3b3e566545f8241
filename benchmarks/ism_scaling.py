"""ISM that scales (issue 18): mutants of a small region in a long window, and the traced receptive-field fast path.

    python benchmarks/ism_scaling.py [--threads 1] [--windows 100] [--naive-windows 2]

1. A 101-bp region in a 10,001-bp model window through the engine (``iter_region_attributions``, naive ISM): the
   model's evaluations without gradients are counted by a wrapper (target: at most 303 mutants + 1 reference).
2. User models that are not built-ins (a 13k-parameter CNN with batch norm, a residual GELU and both poolings, as
   an ``nn.Module``, a ``torch.export`` program and TorchScript; a BPNet-like dilated model): seconds per
   substitution of the fast path (``fast=True``) and of naive ISM (``fast=False``), in forward-pass equivalents
   (one forward of one window at batch 64), and the largest difference between the two.
3. Issue 18 item 3: ``--windows`` windows of 1 kb through the TorchScript CNN with the fast path (naive ISM timed
   on ``--naive-windows`` of them and scaled).
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from seqsal.engine import iter_region_attributions
from seqsal.methods import ism_deltas


class UserCNN(nn.Module):
    """13k parameters: conv-BN-ReLU-maxpool, a residual GELU conv, conv-ReLU-avgpool, mean over length, dense."""

    def __init__(self):
        super().__init__()
        self.c1, self.bn = nn.Conv1d(4, 32, 15, padding=7), nn.BatchNorm1d(32)
        self.c2 = nn.Conv1d(32, 32, 7, padding="same")
        self.c3 = nn.Conv1d(32, 24, 5, padding=2)
        self.fc = nn.Linear(24, 2)

    def forward(self, x):
        h = F.max_pool1d(torch.relu(self.bn(self.c1(x))), 4)
        h = h + F.gelu(self.c2(h))
        h = F.avg_pool1d(torch.relu(self.c3(h)), 4)
        return self.fc(h.mean(dim=-1))


class Dilated(nn.Module):
    """BPNet-like: a wide first convolution, 6 dilated residual convolutions, a cropped profile head, summed."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv1d(4, 32, 21, padding=10)
        self.dilated = nn.ModuleList([nn.Conv1d(32, 32, 3, padding=2 ** i, dilation=2 ** i) for i in range(1, 7)])
        self.head = nn.Conv1d(32, 1, 25, padding=12)

    def forward(self, x):
        h = torch.relu(self.first(x))
        for conv in self.dilated:
            h = h + torch.relu(conv(h))
        return self.head(h)[:, 0, 100:-100].mean(-1, keepdim=True)


class Counting(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner, self.rows = inner, 0

    def forward(self, x):
        if not torch.is_grad_enabled():
            self.rows += x.shape[0]
        return self.inner(x)


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    index = torch.randint(0, 4, (n, length), generator=torch.Generator().manual_seed(seed))
    return F.one_hot(index, 4).permute(0, 2, 1).float().contiguous()


def forward_ms(model, length: int) -> float:
    x = one_hot(64, length, seed=9)
    with torch.no_grad():
        model(x)
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            model(x)
            best = min(best, time.perf_counter() - started)
    return 1e3 * best / 64


def timed_ism(model, x, fast):
    started = time.perf_counter()
    deltas, _ = ism_deltas(model, x, fast=fast)
    return deltas, time.perf_counter() - started


def region_in_long_window() -> dict:
    window = 10_001
    inner = nn.Sequential(nn.Conv1d(4, 16, 9, padding=4), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                          nn.Linear(16, 1)).eval()
    model = Counting(inner)
    letters = one_hot(1, 30_000, seed=1)[0].argmax(0)
    sequence = "".join("ACGT"[int(i)] for i in letters)
    regions = pd.DataFrame({"chrom": ["chr1"], "start": [15_000], "end": [15_101], "strand": ["+"], "name": ["r"]})
    started = time.perf_counter()
    list(iter_region_attributions(model, lambda c, s, e: sequence[s:e], regions, method="ism", window=window,
                                  batch_size=64, method_params={"fast": False}))
    return {"region_bp": 101, "window_bp": window, "model_evaluations": model.rows,
            "seconds": time.perf_counter() - started, "whole_window_would_be": 3 * window + 1}


def user_model(name: str, model, length: int, n: int = 1, rounds: int = 3) -> dict:
    """Fast and naive ISM of ``n`` windows against the forward at batch 64: ``rounds`` interleaved rounds (the box
    is shared), the best of each."""
    x = one_hot(n, length, seed=2)
    ism_deltas(model, x[:1], fast=True)  # tracing (or conversion) and the check, once per model as in a run
    fast_s = naive_s = ms = float("inf")
    for _ in range(rounds):
        ms = min(ms, forward_ms(model, length))
        fast, seconds = timed_ism(model, x, True)
        fast_s = min(fast_s, seconds)
        naive, seconds = timed_ism(model, x, False)
        naive_s = min(naive_s, seconds)
    subs = 3 * length * n
    return {"model": name, "length": length, "substitutions": subs, "forward_ms_per_window": ms,
            "fast_forward_equivalents_per_substitution": 1e3 * fast_s / subs / ms,
            "naive_forward_equivalents_per_substitution": 1e3 * naive_s / subs / ms,
            "max_abs_difference": float((fast - naive).abs().max()), "max_abs_delta": float(naive.abs().max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--naive-windows", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(json.dumps(region_in_long_window()), flush=True)
    cnn = UserCNN().eval()
    with torch.no_grad():
        cnn.bn.running_mean.uniform_(-0.2, 0.2)
        cnn.bn.running_var.uniform_(0.5, 1.5)
    print(f"UserCNN: {sum(p.numel() for p in cnn.parameters())} parameters", flush=True)
    program = torch.export.export(cnn, (one_hot(2, 1000),), dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
    scripted = torch.jit.script(cnn)
    for name, model in (("UserCNN nn.Module", cnn), ("UserCNN torch.export", program),
                        ("UserCNN TorchScript", scripted), ("Dilated nn.Module", Dilated().eval())):
        print(json.dumps(user_model(name, model, 1000, 2)), flush=True)
    x = one_hot(args.windows, 1000, seed=3)
    ism_deltas(scripted, x[:1], fast=True)  # conversion and check once, as a run does
    _, fast_s = timed_ism(scripted, x, True)
    _, naive_s = timed_ism(scripted, x[:args.naive_windows], False)
    print(json.dumps({"windows": args.windows, "torchscript_fast_seconds": fast_s,
                      "torchscript_naive_seconds_scaled": naive_s * args.windows / args.naive_windows}), flush=True)


if __name__ == "__main__":
    main()
