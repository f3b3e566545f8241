"""Model cards of the calibration zoo: held-out accuracy, which planted motifs a model uses, track sparsity.

* Held-out accuracy on windows of the held-out chromosome (never trained on): Pearson r of the predicted
  and the measured activity (regression), AUROC (classifier), Pearson r of log total reads and the median
  per-window Pearson r of the predicted and the expected read profile (BPNet-style).
* Motif use (issue 13's definition): one site sampled from the motif's PWM is planted (random strand) at the
  centre of each of 200 random backgrounds (GC 42 %, the world's); the mean change of the target scalar
  over the backgrounds, divided by the SD of the model's target over the world's regions (the window centred
  on each region), is the effect in SD. A motif is *used* when ``|effect| >= 0.1``. Cooperative pairs are
  tested both as each member alone and as the pair (centres 25 bp apart).
* The fraction of bases whose input gradient is exactly zero in all four channels (max-pooling routes
  gradients to one base per pool).

Targets are evaluated with :class:`seqsal.attribution.Target`, so a card's ``--target`` string means here
what it means to ``seqsal attribute``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqsal.attribution import Target, input_gradient
from seqsal.encode import one_hot_encode, reverse_complement
from seqsal.simulate import random_sequence, sample_site
from seqsal.train import pearson

from training import activities, cut_windows, draw_starts, expected_profile, predict
from worlds import World, load_pwms

SAMPLE = 200  # backgrounds per motif
USES_SD = 0.1  # "uses": |mean change| >= 0.1 SD of the predictions


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties); NaN when one class is empty."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def target_scalar(model: nn.Module, x: np.ndarray, target: str, batch_size: int = 32) -> np.ndarray:
    """The scalar ``seqsal attribute --target target`` explains, for windows ``x`` ``(n, 4, W)``: ``(n,)``."""
    parsed = Target.parse(target)
    values = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            values.append(parsed.select(model(torch.as_tensor(x[i:i + batch_size]))).float().numpy())
    return np.concatenate(values)


def held_out_windows(world: World, width: int, n: int, seed: int) -> list[tuple[str, int]]:
    """``n`` window starts on the held-out chromosome (half on elements), seeded."""
    rng = np.random.default_rng([world.spec.seed, seed, width])
    return draw_starts(world, [world.spec.held_out], width, n, rng)


def held_out_regression(model: nn.Module, world: World, one_hot: dict, width: int, n: int) -> dict:
    """Pearson r of predicted vs measured (noisy) and vs noise-free activity on held-out windows."""
    starts = held_out_windows(world, width, n, seed=1)
    truth = activities(world, starts, width)
    measured = truth + np.random.default_rng([world.spec.seed, 2]).normal(0, world.spec.noise_sd, len(truth))
    predicted = predict(model, cut_windows(one_hot, starts, width))[0][:, 0]
    return {"metric": "pearson_r", "value": round(pearson(predicted, measured), 4),
            "pearson_r_noise_free": round(pearson(predicted, truth), 4), "n_windows": len(starts),
            "chromosome": world.spec.held_out}


def held_out_classifier(model: nn.Module, world: World, one_hot: dict, width: int, n: int,
                        threshold: float) -> dict:
    """AUROC and accuracy at p = 0.5 of the classifier (active = noise-free activity >= threshold)."""
    starts = held_out_windows(world, width, n, seed=1)
    labels = activities(world, starts, width) >= threshold
    probability = predict(model, cut_windows(one_hot, starts, width))[0][:, 0]
    return {"metric": "auroc", "value": round(auroc(probability, labels), 4),
            "accuracy_at_0.5": round(float(((probability >= 0.5) == labels).mean()), 4),
            "fraction_active": round(float(labels.mean()), 4),
            "fraction_p_above_0.99_or_below_0.01":
                round(float(((probability > 0.99) | (probability < 0.01)).mean()), 4),
            "n_windows": len(starts), "chromosome": world.spec.held_out}


def held_out_profile(model: nn.Module, world: World, one_hot: dict, width: int, trimming: int, n: int) -> dict:
    """Counts: Pearson r of log(1 + reads); profile: median per-window Pearson r of softmax(profile) and the
    expected (noise-free) profile, over windows with >= 30 expected reads."""
    starts = held_out_windows(world, width, n, seed=1)
    out_length = width - 2 * trimming
    rates = np.stack([expected_profile(world, c, s + trimming, out_length) for c, s in starts])
    reads = np.random.default_rng([world.spec.seed, 2]).poisson(rates)
    profile, log_counts = predict(model, cut_windows(one_hot, starts, width))
    probabilities = torch.softmax(torch.as_tensor(profile[:, 0]), dim=-1).numpy()
    rich = rates.sum(1) >= 30
    shape_r = [pearson(p, r) for p, r in zip(probabilities[rich], rates[rich])]
    return {"metric": "counts_pearson_r", "value": round(pearson(log_counts[:, 0], np.log1p(reads.sum(1))), 4),
            "profile_median_pearson_r": round(float(np.median(shape_r)), 4) if shape_r else None,
            "profile_windows": int(rich.sum()), "n_windows": len(starts), "chromosome": world.spec.held_out}


def region_windows(world: World, one_hot: dict, regions: pd.DataFrame, width: int) -> np.ndarray:
    """The window of ``width`` bp that ``seqsal attribute`` centres on each region (``(n, 4, width)``)."""
    starts = [(r.chrom, int(r.start) - (width - int(r.end - r.start)) // 2) for r in regions.itertuples()]
    return cut_windows(one_hot, starts, width)


def plant(background: np.ndarray, site: str, start: int) -> np.ndarray:
    """A copy of ASCII ``background`` with ``site`` written at ``start``."""
    sequence = background.copy()
    sequence[start:start + len(site)] = np.frombuffer(site.encode(), dtype=np.uint8)
    return sequence


def drawn_site(pwm: np.ndarray, rng: np.random.Generator) -> str:
    """One site sampled from ``pwm`` on a random strand."""
    site = sample_site(pwm, rng)
    return reverse_complement(site) if rng.random() < 0.5 else site


def motif_effects(model: nn.Module, world: World, width: int, target: str, sd: float) -> dict:
    """Mean change of the target when one sampled site of each planted motif (and each cooperative pair)
    is planted at the centre of 200 random backgrounds; ``uses`` = ``|change| >= 0.1 sd``."""
    spec = world.spec
    pwms = load_pwms(spec.motif_names())
    rng = np.random.default_rng([spec.seed, 7])
    backgrounds = [random_sequence(width, rng) for _ in range(SAMPLE)]
    encode = lambda seqs: np.stack([one_hot_encode(s.tobytes()) for s in seqs])  # noqa: E731
    base = target_scalar(model, encode(backgrounds), target)
    tests: dict[str, list[np.ndarray]] = {}
    for name in spec.motif_names():
        tests[name] = []
        for background in backgrounds:
            site = drawn_site(pwms[name], rng)
            tests[name].append(plant(background, site, width // 2 - len(site) // 2))
    for pair in spec.pairs:
        tests[pair.name] = []
        for background in backgrounds:
            first, second = drawn_site(pwms[pair.first], rng), drawn_site(pwms[pair.second], rng)
            sequence = plant(background, first, width // 2 - 12 - len(first) // 2)
            tests[pair.name].append(plant(sequence, second, width // 2 + 13 - len(second) // 2))
    effects = {}
    for name, sequences in tests.items():
        change = float((target_scalar(model, encode(sequences), target) - base).mean())
        weight = spec.weights.get(name, next((p.weight for p in spec.pairs if p.name == name), 0.0))
        effects[name] = {"mean_change": round(change, 5),
                         "change_in_sd": round(change / sd, 3) if sd > 0 else None,
                         "uses": bool(sd > 0 and abs(change) >= USES_SD * sd), "planted_weight": weight}
    return effects


def zero_gradient_fraction(model: nn.Module, x: np.ndarray, target: str, batch_size: int = 16) -> float:
    """Fraction of bases of ``x`` whose input gradient of ``target`` is exactly 0 in all four channels."""
    parsed = Target.parse(target)
    zeros = total = 0
    for i in range(0, len(x), batch_size):
        gradient, _ = input_gradient(model, torch.as_tensor(x[i:i + batch_size]), parsed)
        zero = (gradient == 0).all(dim=1)
        zeros, total = zeros + int(zero.sum()), total + zero.numel()
    return zeros / max(1, total)


def rc_difference(model: nn.Module, x: np.ndarray, target: str) -> float:
    """Largest ``|f(x) - f(rc(x))|`` of the target over windows ``x`` (0 for an exactly RC-invariant model)."""
    forward = target_scalar(model, x, target)
    reverse = target_scalar(model, np.ascontiguousarray(x[:, ::-1, ::-1]), target)
    return float(np.abs(forward - reverse).max())
