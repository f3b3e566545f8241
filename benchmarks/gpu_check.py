"""The one-command GPU check of issue 18 (run through ``benchmarks/gpu_check.sh``): one table, under 8 minutes.

Rows (model: a ``seqsal.BassetCNN`` of about 1M parameters, 1-kb windows, random weights):

* CPU vs GPU agreement of grad x input at fp32 (TF32 off: Pearson r >= 0.9999; max |difference| / max |map|
  recorded: max-pool ties broken differently move single bases), and bf16 / fp16 autocast on the GPU against its
  fp32 (r >= 0.99 over all bases);
* the whole ``seqsal attribute`` command's bp/s (its attribution time from ``run.json``) against a bare
  forward+backward loop on the same device;
* DeepSHAP (20 shuffled references) and ISM throughput (bp/s, ``seqsal.attribute``);
* the memory plan (a small ``--max-memory`` gives a smaller batch) and the out-of-memory back-off, forced: on the
  GPU by capping the caching allocator below one batch, on the CPU by a model that fails like the CPU allocator;
* the bundled demo through ``seqsal attribute`` (grad x input and DeepSHAP) on the GPU against the CPU: the same
  seqlets are called (the maps' r recorded).

Without a GPU it says so and runs the CPU parts on small sizes (a minute or two).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

import seqsal
from seqsal.attribution import Target
from seqsal.devices import full_float32
from seqsal.engine import AdaptiveBatch, fit_memory, iter_region_attributions
from seqsal.genome import Genome
from seqsal.simulate import random_sequence

CPU_OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 1073741824 bytes."
ROWS: list[tuple[str, str, str, bool | None]] = []


def row(check: str, value: str, target: str, passed: bool | None) -> None:
    ROWS.append((check, value, target, passed))
    print(f"  {check}: {value}", file=sys.stderr, flush=True)


def model_1m() -> nn.Module:
    torch.manual_seed(0)
    return seqsal.BassetCNN(input_length=1000, n_tasks=1, channels=(128, 128, 128), kernel_sizes=(15, 9, 7),
                            pool_sizes=(4, 4, 4), hidden=128).eval()


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=g), 4).permute(0, 2, 1).float()


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.double().flatten().numpy(), b.double().flatten().numpy())[0, 1])


def agreement(model: nn.Module, device: str, n: int) -> None:
    x = one_hot(n, 1000)
    cpu = seqsal.attribute(model, x, "grad_x_input", device="cpu", hypothetical=True)
    if device == "cpu":
        bf16 = seqsal.attribute(model, x, "grad_x_input", device="cpu", precision="bf16", hypothetical=True)
        r = pearson(bf16, cpu)
        row("CPU bf16 vs CPU fp32 (no GPU; the target is the GPU's)", f"r = {r:.4f}", "r >= 0.99 on GPU", None)
        return
    gpu = seqsal.attribute(model.to(device), x, "grad_x_input", device=device, hypothetical=True)
    scale = float(cpu.abs().max())
    error = float((gpu - cpu).abs().max()) / scale
    # not max |diff| <= 1e-5: one-hot windows give exact ties in max-pooling, and the GPU breaks some of them
    # differently (the gradient goes to another base): measured r 0.999998, max |diff| 2 % of the map's largest
    r = pearson(gpu, cpu)
    row("CPU vs GPU, fp32 (TF32 off)", f"r = {r:.6f}; max |diff| / max |map| = {error:.2e}", "r >= 0.9999",
        r >= 0.9999)
    for precision in ("bf16", "fp16"):
        low = seqsal.attribute(model, x, "grad_x_input", device=device, precision=precision, hypothetical=True)
        r = pearson(low, gpu)
        row(f"GPU {precision} vs GPU fp32", f"r = {r:.4f}", "r >= 0.99", r >= 0.99)
    model.to("cpu")


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def bare_bps(model: nn.Module, device: str, windows: int, batch: int) -> float:
    """The bare forward+backward's bp/s, in full float32 as the command's fp32 runs (review32: TF32 here made the
    ratio unfair to the command)."""
    model.to(device)
    x = one_hot(batch, 1000, seed=1).to(device)
    with full_float32():
        for _ in range(2):  # warm-up
            xx = x.clone().requires_grad_(True)
            torch.autograd.grad(model(xx)[:, 0].sum(), xx)
        sync(device)
        started = time.perf_counter()
        for _ in range(max(1, windows // batch)):
            xx = x.clone().requires_grad_(True)
            torch.autograd.grad(model(xx)[:, 0].sum(), xx)
        sync(device)
    model.to("cpu")
    return max(1, windows // batch) * batch * 1000 / (time.perf_counter() - started)


def whole_command(model: nn.Module, device: str, regions: int, folder: Path) -> None:
    rng = np.random.default_rng(0)
    genome = folder / "genome.fa"
    size = regions * 1100 + 1000
    sequence = random_sequence(size, rng).tobytes().decode()
    genome.write_text(">chr1\n" + "\n".join(sequence[i:i + 80] for i in range(0, size, 80)) + "\n")
    bed = folder / "regions.bed"
    bed.write_text("".join(f"chr1\t{i * 1100}\t{i * 1100 + 1000}\tr{i}\t0\t+\n" for i in range(regions)))
    path = folder / "model.safetensors"
    seqsal.save_model(model, path)
    command = [sys.executable, "-m", "seqsal.cli", "attribute", str(genome), str(bed), "-m", str(path), "-o",
               str(folder / "out"), "--device", device, "--no-peaks", "--force", "-q"]
    subprocess.run(command, check=True)
    record = json.loads((folder / "out" / "run.json").read_text())
    command_bps = regions * 1000 / record["timing_seconds"]["attribution"]
    bare = bare_bps(model, device, min(regions, 4096), 64)
    ratio = command_bps / bare
    row(f"seqsal attribute ({regions} x 1 kb, {device}) vs bare fwd+bwd",
        f"{command_bps / 1e6:.3g} vs {bare / 1e6:.3g} Mbp/s ({ratio:.2f})", ">= 0.5 of bare on GPU",
        ratio >= 0.5 if device == "cuda" else None)


def method_throughput(model: nn.Module, device: str, n: int) -> None:
    x = one_hot(n, 1000, seed=2)
    for method, params in (("deepshap", {"references": 20}), ("ism", {})):
        model.to(device)
        seqsal.attribute(model, x[:2], method, device=device, **params)  # warm-up
        sync(device)
        started = time.perf_counter()
        seqsal.attribute(model, x, method, device=device, **params)
        sync(device)
        bps = n * 1000 / (time.perf_counter() - started)
        row(f"{method} throughput ({n} x 1 kb{', 20 refs' if method == 'deepshap' else ''})",
            f"{bps / 1e3:.3g} kbp/s", "recorded", None)
    model.to("cpu")


def memory_plan_and_back_off(model: nn.Module, device: str) -> None:
    torch_device = torch.device(device)
    model.to(device)
    batch, _, plan = fit_memory(model, Target(), "grad_x_input", {}, False, 512, "64M", torch_device, None, 1000)
    row("plan at --max-memory 64M (asked 512)", f"batch {batch} ({plan.cost.per_window / 1e6:.2f} MB/window)",
        "< 512", batch < 512)
    x = one_hot(256, 1000, seed=3).to(device)
    sizes: list[int] = []
    if device == "cuda":
        full = seqsal.attribute(model, x, "grad_x_input", device=device, batch_size=256, hypothetical=True)
        torch.cuda.empty_cache()  # else the cached blocks of that run hold a batch of 256 under any cap
        total = torch.cuda.get_device_properties(0).total_memory
        cap = (torch.cuda.memory_allocated() + 64 * plan.cost.per_window) / total
        torch.cuda.set_per_process_memory_fraction(cap)

        def run(chunk):
            sizes.append(chunk.shape[0])
            return seqsal.methods.hypothetical_attributions(model, chunk, "grad_x_input", Target())
        try:
            hyp, _ = AdaptiveBatch(run, 256)(x)
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0)
        same = torch.allclose(hyp.cpu(), full, rtol=1e-4, atol=1e-6)
        row("GPU OOM back-off (allocator capped at ~64 windows)", f"batches {sizes[:4]}..., same maps: {same}",
            "halves, completes", sizes[0] == 256 and min(sizes) < 256 and same)
        model.to("cpu")
        return
    model.to("cpu")

    class Starved(nn.Module):
        def forward(self, inputs):
            sizes.append(inputs.shape[0])
            if inputs.shape[0] > 16:
                raise RuntimeError(CPU_OOM)
            return model(inputs)

    with tempfile.TemporaryDirectory() as folder:
        fasta = Path(folder) / "g.fa"
        fasta.write_text(">chr1\n" + random_sequence(40_000, np.random.default_rng(1)).tobytes().decode() + "\n")
        table = pd.DataFrame({"chrom": "chr1", "start": np.arange(30) * 1100, "end": np.arange(30) * 1100 + 1000,
                              "strand": "+", "name": [f"r{i}" for i in range(30)]})
        got = list(iter_region_attributions(Starved(), Genome(str(fasta)).fetch, table, batch_size=64,
                                            max_memory="4G"))
    work = sizes[2:]
    row("CPU OOM back-off (allocator error above 16 windows)", f"batches {work[:4]}..., {len(got)} regions done",
        "halves, completes", work[0] == 30 and max(work[-2:]) <= 16 and len(got) == 30)


def demo_agreement(device: str, folder: Path) -> None:
    """The demo's run folder made on ``device`` against the one made on the CPU (skipped without a GPU)."""
    if device == "cpu":
        row("demo, GPU vs CPU run folder", "no GPU", "same seqlets", None)
        return
    demo = Path(__file__).resolve().parent.parent / "data" / "demo"
    for method in ("grad_x_input", "deepshap"):
        tables, maps = [], []
        for where in ("cpu", device):
            out = folder / f"{method}_{where}"
            subprocess.run([sys.executable, "-m", "seqsal.cli", "attribute", str(demo / "genome.fa"),
                            str(demo / "regions.bed"), "-m", str(demo / "model.safetensors"), "-o", str(out),
                            "--method", method, "--device", where, "--force", "-q"], check=True)
            maps.append(np.load(out / "attributions.npz")["hypothetical"])
            tables.append(pd.read_csv(out / "seqlets.tsv", sep="\t"))
        error = float(np.abs(maps[1] - maps[0]).max() / np.abs(maps[0]).max())
        r = float(np.corrcoef(maps[0].ravel(), maps[1].ravel())[0, 1])
        same = [tuple(t[["chrom", "start", "end", "sign"]].itertuples(index=False)) for t in tables]
        agree = same[0] == same[1]
        row(f"demo {method}, GPU vs CPU run folder",
            f"r = {r:.6f}, max |diff| / max |map| = {error:.1e}; seqlets {len(same[1])} vs {len(same[0])}, "
            f"same: {agree}", "same seqlets", agree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda or cpu [cuda when available]")
    args = parser.parse_args()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device == "cuda"
    name = torch.cuda.get_device_name(0) if gpu else "no GPU: CPU parts only, small sizes"
    print(f"seqsal {seqsal.__version__}, torch {torch.__version__}, device: {name}", file=sys.stderr)
    started = time.perf_counter()
    model = model_1m()
    agreement(model, device, 64 if gpu else 16)
    with tempfile.TemporaryDirectory() as folder:
        whole_command(model, device, 20_000 if gpu else 200, Path(folder))
    method_throughput(model, device, 64 if gpu else 4)
    memory_plan_and_back_off(model, device)
    with tempfile.TemporaryDirectory() as folder:
        demo_agreement(device, Path(folder))
    print(f"\n| check ({name}) | value | target | pass |\n| --- | --- | --- | --- |")
    for check, value, target, passed in ROWS:
        print(f"| {check} | {value} | {target} | {'-' if passed is None else ('yes' if passed else 'NO')} |")
    print(f"\n{time.perf_counter() - started:.0f} s")
    if any(passed is False for *_, passed in ROWS):
        sys.exit(1)


if __name__ == "__main__":
    main()
