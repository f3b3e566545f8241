"""Per-window costs behind ``benchmarks/SCALE.md``: FLOPs and activation memory of one forward+backward pass of a
BPNet-size and an Enformer-size model, and the CPU time of the BPNet-size one.

FLOPs are counted by ``torch.utils.flop_counter`` (exact for the model's matmuls and convolutions); activation
memory by :func:`seqsal.memory.measure_window_cost` (the BPNet-size model, real tensors) or, for the Enformer-size
proxy (too slow to run on 2 CPU cores), the same count on the ``meta`` device (shapes only, nothing computed).

    python benchmarks/scale_costs.py
"""
from __future__ import annotations

import json
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import seqsal
from seqsal.attribution import Target, input_gradient
from seqsal.memory import _LiveBytes, measure_window_cost


class EnformerProxy(nn.Module):
    """Enformer's shape (Avsec et al. 2021): 196,608 bp in; conv stem 768 and 6 conv+pool(2) blocks widening to
    1,536 channels at 128 bp (1,536 positions); 11 transformer layers (8 heads, width 1,536, feed-forward 3,072);
    a pointwise head to 5,313 human tracks (~250M parameters with the real model's relative positions; this proxy
    has ~200M: it omits them, a small share of the FLOPs)."""

    def __init__(self, channels: int = 1536, layers: int = 11, tracks: int = 5313):
        super().__init__()
        widths = [768, 768, 896, 1024, 1152, 1280, 1536]
        blocks = [nn.Conv1d(4, widths[0], 15, padding=7), nn.GELU(), nn.MaxPool1d(2)]
        for a, b in zip(widths[:-1], widths[1:]):
            blocks += [nn.Conv1d(a, b, 5, padding=2), nn.GELU(), nn.MaxPool1d(2)]
        self.tower = nn.Sequential(*blocks)
        layer = nn.TransformerEncoderLayer(channels, 8, 2 * channels, dropout=0.0, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(channels, tracks)

    def forward(self, x):
        h = self.tower(x).transpose(1, 2)
        return self.head(self.transformer(h)[:, 320:-320]).sum(dim=(1, 2))


def flops(model: nn.Module, width: int, device: str = "cpu") -> int:
    x = torch.zeros(1, 4, width, device=device, requires_grad=True)
    counter = FlopCounterMode(display=False)
    with counter:
        model(x).sum().backward()
    return int(counter.get_total_flops())


def meta_activation_bytes(model: nn.Module, width: int) -> int:
    """Peak bytes of the tensors alive at once in a forward+backward pass on the meta device (shapes only):
    :func:`seqsal.memory.peak_bytes`'s count, which follows storages, not Python objects."""
    x = torch.zeros(1, 4, width, device="meta", requires_grad=True)
    with _MetaLiveBytes() as live:
        torch.autograd.grad(model(x).sum(), x)
    return live.peak


class _MetaLiveBytes(_LiveBytes):
    """:class:`seqsal.memory._LiveBytes` counting meta tensors too (their storages know their size)."""

    count_meta = True


def main() -> None:
    torch.set_num_threads(2)
    report = {}
    bpnet = seqsal.BPNet(n_filters=64, n_layers=8, n_tasks=1, trimming=557).eval()  # 2,114 in, 1,000 out
    for p in bpnet.parameters():
        p.requires_grad_(False)
    target = Target.parse("output=1")
    cost = measure_window_cost(lambda x: input_gradient(bpnet, x, target), 2114, torch.device("cpu"))
    x = torch.zeros(64, 4, 2114)
    input_gradient(bpnet, x, target)
    started = time.perf_counter()
    for _ in range(3):
        input_gradient(bpnet, x, target)
    seconds = (time.perf_counter() - started) / (3 * 64)
    report["bpnet"] = {"input": 2114, "parameters": sum(p.numel() for p in bpnet.parameters()),
                       "fwd_bwd_flops": flops(lambda t: target.select(bpnet(t)), 2114),
                       "activation_bytes_per_window": cost.per_window, "cpu_seconds_per_window_2_threads": seconds}
    with torch.device("meta"):
        enformer = EnformerProxy()
    for p in enformer.parameters():
        p.requires_grad_(False)
    report["enformer_proxy"] = {"input": 196_608, "parameters": sum(p.numel() for p in enformer.parameters()),
                                "fwd_bwd_flops": flops(enformer, 196_608, "meta"),
                                "activation_bytes_per_window": meta_activation_bytes(enformer, 196_608)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
