"""Training data drawn on the fly from a zoo world, the simulated profiles of the BPNet-style model, and
the three training losses of the zoo (MSE regression, BCE classification, BPNet profile + counts).

Windows are drawn afresh for every batch (half centred on an element with jitter, half uniformly), half
from the training chromosomes and half from simulated chromosomes of the same process (a fresh one every
20 batches: new site instances, so the model learns the motifs rather than the genome's few thousand
sites); targets are the world's activity rule plus N(0, noise_sd). Held-out windows come from the held-out
chromosome with a fixed seed. All draws go through one seeded ``numpy.random.Generator``: same seed, same
batches.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seqsal.encode import one_hot_encode

from worlds import World, load_pwms, simulated_world

log = logging.getLogger("zoo")


def genome_one_hot(world: World) -> dict[str, np.ndarray]:
    """Chromosome -> ``(4, L)`` uint8 one-hot (A, C, G, T; N = zeros)."""
    return {c: one_hot_encode(s.tobytes(), dtype=np.uint8) for c, s in world.sequences.items()}


def cut_windows(one_hot: dict[str, np.ndarray], spans: list[tuple[str, int]], width: int) -> np.ndarray:
    """``(n, 4, width)`` float32 windows ``[start, start + width)``; bases past a chromosome end are zeros (N)."""
    out = np.zeros((len(spans), 4, width), dtype=np.float32)
    for i, (chrom, start) in enumerate(spans):
        array = one_hot[chrom]
        lo, hi = max(start, 0), min(start + width, array.shape[1])
        if hi > lo:
            out[i, :, lo - start:hi - start] = array[:, lo:hi]
    return out


def draw_starts(world: World, chroms: list[str], width: int, n: int, rng: np.random.Generator,
                element_fraction: float = 0.5, jitter: int = 150) -> list[tuple[str, int]]:
    """``n`` window starts on ``chroms``: ``element_fraction`` centred on an element (+- ``jitter``), the rest
    uniform."""
    sizes = world.spec.chrom_sizes
    elements = world.elements[world.elements["chrom"].isin(chroms)]
    n_element = int(round(n * element_fraction)) if len(elements) else 0
    picks = elements.iloc[rng.integers(len(elements), size=n_element)] if n_element else elements.iloc[:0]
    starts = [(row.chrom, int(row.centre + rng.integers(-jitter, jitter + 1) - width // 2))
              for row in picks.itertuples()]
    for _ in range(n - n_element):
        chrom = chroms[int(rng.integers(len(chroms)))]
        starts.append((chrom, int(rng.integers(0, max(1, sizes[chrom] - width)))))
    return starts


def activities(world: World, starts: list[tuple[str, int]], width: int, offset: int = 0,
               span: int | None = None) -> np.ndarray:
    """Noise-free activity of ``[start + offset, start + offset + span)`` for every start, ``(n,)`` float32."""
    span = width if span is None else span
    return np.array([world.activity(c, s + offset, s + offset + span) for c, s in starts], dtype=np.float32)


def expected_profile(world: World, chrom: str, start: int, length: int, scale: float = 40.0,
                     background: float = 0.03, width: float = 8.0) -> np.ndarray:
    """Noise-free read profile ``(length,)`` of ``chrom:[start, start + length)`` for the BPNet-style model.

    Every activation unit wholly inside (weight > 0: a site, or a matched pair) adds a Laplace-shaped bump
    of ``scale * weight`` reads (scale ``width`` bp) at its centre; repressor units (weight < 0) inside
    multiply the whole window by ``exp(weight)``; ``background`` reads per bp everywhere.
    """
    positions = np.arange(length, dtype=np.float64)
    profile = np.full(length, background, dtype=np.float64)
    repression = 0.0
    for unit_start, unit_end, weight in zip(*world.unit_arrays(chrom, start, start + length)):
        if weight > 0:
            bump = np.exp(-np.abs(positions - ((unit_start + unit_end) / 2 - start)) / width)
            profile += scale * weight * bump / bump.sum()
        else:
            repression += weight
    return profile * np.exp(repression)


@dataclass
class Source:
    """Where training windows come from: a world, its one-hot chromosomes, and the chromosomes to use."""

    world: World
    one_hot: dict[str, np.ndarray]
    chroms: list[str]


class Sources:
    """Training windows half from the world's training chromosomes, half from simulated chromosomes of the
    same process (:func:`worlds.simulated_world`, ``size`` bp), a fresh one every ``every`` batches: the model
    keeps seeing new site instances instead of memorising the few thousand of the genome."""

    def __init__(self, world: World, one_hot: dict[str, np.ndarray], rng: np.random.Generator,
                 size: int = 150_000, every: int = 20):
        self.genome = Source(world, one_hot, world.spec.train_chroms)
        self.rng, self.size, self.every, self.calls = rng, size, every, 0
        self.pwms = load_pwms(world.spec.motif_names())
        self.simulated: Source | None = None

    def __call__(self) -> list[Source]:
        if self.calls % self.every == 0:
            sim = simulated_world(self.genome.world.spec, self.size, self.rng, self.pwms)
            self.simulated = Source(sim, genome_one_hot(sim), ["sim"])
        self.calls += 1
        return [self.genome, self.simulated]


@dataclass
class Batch:
    x: torch.Tensor  # (n, 4, W) float32
    y: torch.Tensor  # (n,) targets, or (n, L_out) counts for profiles


def _draw(sources: list[Source], width: int, n: int, rng: np.random.Generator, element_fraction: float
          ) -> list[tuple[Source, list[tuple[str, int]]]]:
    """Window starts split evenly over ``sources``."""
    shares = np.diff(np.linspace(0, n, len(sources) + 1).round().astype(int))
    return [(s, draw_starts(s.world, s.chroms, width, int(k), rng, element_fraction)) for s, k in zip(sources, shares)]


def regression_batch(sources: list[Source], width: int, n: int, rng: np.random.Generator, rc: bool = True,
                     element_fraction: float = 0.5, noise_sd: float = 0.1) -> Batch:
    """Windows and noisy activities ``(n,)``; half the windows reverse-complemented when ``rc``."""
    drawn = _draw(sources, width, n, rng, element_fraction)
    x = np.concatenate([cut_windows(s.one_hot, starts, width) for s, starts in drawn])
    y = np.concatenate([activities(s.world, starts, width) for s, starts in drawn])
    y = y + rng.normal(0, noise_sd, size=n).astype(np.float32)
    if rc:
        flip = rng.random(n) < 0.5
        x[flip] = x[flip][:, ::-1, ::-1]
    return Batch(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.float32)))


def profile_batch(sources: list[Source], width: int, trimming: int, n: int, rng: np.random.Generator,
                  rc: bool = True) -> Batch:
    """Windows and Poisson read counts ``(n, width - 2 * trimming)`` of the central output window."""
    drawn = _draw(sources, width, n, rng, element_fraction=0.6)
    x = np.concatenate([cut_windows(s.one_hot, starts, width) for s, starts in drawn])
    out_length = width - 2 * trimming
    rates = np.stack([expected_profile(s.world, c, p + trimming, out_length) for s, starts in drawn for c, p in starts])
    counts = rng.poisson(rates).astype(np.float32)
    if rc:
        flip = rng.random(n) < 0.5
        x[flip] = x[flip][:, ::-1, ::-1]
        counts[flip] = counts[flip][:, ::-1]
    return Batch(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(counts)))


def bpnet_loss(profile: torch.Tensor, log_counts: torch.Tensor, counts: torch.Tensor,
               counts_weight: float) -> torch.Tensor:
    """BPNet's loss (Avsec et al. 2021): multinomial NLL of the reads under ``softmax(profile)`` plus
    ``counts_weight`` x MSE of ``log(1 + total reads)``. ``profile`` ``(n, 1, L)``, ``log_counts`` ``(n, 1)``."""
    log_probs = torch.log_softmax(profile[:, 0], dim=-1)
    nll = -(counts * log_probs).sum(-1).mean()
    mse = nn.functional.mse_loss(log_counts[:, 0], torch.log1p(counts.sum(-1)))
    return nll + counts_weight * mse


def train(model: nn.Module, next_batch, loss_kind: str, steps: int, learning_rate: float = 2e-3,
          seed: int = 0, counts_weight: float = 10.0, log_every: int = 200) -> dict:
    """Train ``model`` for ``steps`` batches from ``next_batch()`` with Adam; returns the wall and CPU seconds
    (all threads) and the loss history.

    ``loss_kind``: ``mse`` (output ``(n, 1)`` vs ``y``), ``bce`` (``model.logit(x)`` vs ``y`` in {0, 1}), or
    ``bpnet`` (:func:`bpnet_loss` on the ``(profile, counts)`` output). The learning rate warms up linearly
    over the first 10 % of the steps (at most 200; Adam's first steps otherwise kill the ReLUs behind a wide
    dense layer) and then decays linearly to 10 %.
    """
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    warmup = max(1, min(200, steps // 10))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * (1.0 - 0.9 * step / max(1, steps)))
    history, running, started, cpu = [], 0.0, time.perf_counter(), time.process_time()
    model.train()
    for step in range(steps):
        batch = next_batch()
        if loss_kind == "mse":
            loss = nn.functional.mse_loss(model(batch.x)[:, 0], batch.y)
        elif loss_kind == "bce":
            loss = nn.functional.binary_cross_entropy_with_logits(model.logit(batch.x)[:, 0], batch.y)
        elif loss_kind == "bpnet":
            profile, log_counts = model(batch.x)
            loss = bpnet_loss(profile, log_counts, batch.y, counts_weight)
        else:
            raise ValueError(f"unknown loss {loss_kind!r}")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        running += float(loss.detach())
        if (step + 1) % log_every == 0 or step + 1 == steps:
            done = (step + 1) % log_every or log_every
            history.append({"step": step + 1, "loss": round(running / done, 5)})
            log.info("  step %d loss %.4f (%.0f s)", step + 1, running / done, time.perf_counter() - started)
            running = 0.0
    model.eval()
    return {"steps": steps, "seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1), "history": history}


def predict(model: nn.Module, x: np.ndarray, batch_size: int = 64) -> list[np.ndarray]:
    """Model outputs for ``x`` ``(n, 4, W)`` in eval mode without gradients: a list (one per tuple output)
    of arrays ``(n, ...)``."""
    model.eval()
    chunks: list[list[np.ndarray]] = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            output = model(torch.as_tensor(x[i:i + batch_size]))
            output = output if isinstance(output, (tuple, list)) else (output,)
            chunks.append([o.numpy() for o in output])
    return [np.concatenate([c[k] for c in chunks]) for k in range(len(chunks[0]))]
