"""Attribution terms for training: priors on input gradients, saliency-guided cutout, consistency.

The gradient terms work on a batch of one-hot inputs ``x`` ``(N, 4, L)`` and the input gradients of the model's
summed outputs (:func:`input_gradients`; ``create_graph=True`` so that a penalty on them can be
differentiated again with respect to the weights: double backpropagation). The "map" of an input is
gradient x input, the attribution seqsal's default method reports.

* :func:`fourier_penalty` — Tseng, Shrikumar & Kundaje, "Fourier-transform-based attribution priors
  improve the interpretability and stability of deep learning models for genomics", NeurIPS 2020: the
  share of the spectrum of the smoothed ``|gradient x input|`` track that lies above a cut-off frequency;
  :func:`fourier_prior_term` applies it to the positive windows of a batch only (:func:`positive_thresholds`,
  :func:`positive_windows`), as their code does.
* :func:`mask_penalty` — after Ross, Hughes & Doshi-Velez, "Right for the right reasons", IJCAI 2017: the
  squared total attribution of the M- bases (positions that must not matter), computed exactly by
  completeness as ``f(x) - f(x with M- randomised)``, over the labels' variance, minus a saturating
  reward for the same attribution of the M+ bases (positions that should). Not a gradient term: one extra
  forward pass of the masked windows, every step.
* :func:`rc_consistency`, :func:`shift_consistency` — the distance between the map of ``x`` and the
  mapped-back map of its reverse complement or of a shifted copy (consistency regularisation); the RC
  distance is taken on maps centred per position over the batch (:func:`centred_pair`), so that a
  sequence-independent, mirror-symmetric positional profile does not satisfy it for free.
* :func:`salient_cutout`, :func:`random_cutout` — replace the most salient stretch (or a random one, the
  control) of a drawn length by random bases or Ns (saliency-guided augmentation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from .encode import reverse_complement_one_hot

Forward = Callable[[torch.Tensor], torch.Tensor]


def input_gradients(forward: Forward, x: torch.Tensor, create_graph: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's outputs and the gradient of their sum with respect to the input.

    Parameters
    ----------
    forward
        Maps ``(N, 4, L)`` to predictions ``(N, T)`` (logits for classification).
    x
        One-hot ``(N, 4, L)``; not modified (a leaf copy that requires grad is made).
    create_graph
        Keep the graph of the gradient, so that a penalty on it can be backpropagated to the weights.

    Returns
    -------
    (predictions, gradients)
        ``(N, T)`` and ``(N, 4, L)``. The gradient of sample ``i`` is that of ``sum_t f_t(x_i)``
        (samples are independent in eval mode; in train mode batch norm couples them slightly).
    """
    leaf = x.detach().requires_grad_(True)
    predictions = forward(leaf)
    (gradients,) = torch.autograd.grad(predictions.float().sum(), leaf, create_graph=create_graph)
    return predictions, gradients


def gaussian_kernel(sigma: int) -> torch.Tensor:
    """The normalised Gaussian of standard deviation ``sigma`` bases, truncated at one sigma: ``2 sigma + 1`` taps.

    ``sigma = 0`` gives the identity ``[1.0]`` (no smoothing), as in Tseng et al.'s code.
    """
    if sigma <= 0:
        return torch.ones(1)
    offsets = torch.arange(-sigma, sigma + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum()).float()


def frequency_weights(n_freqs: int, freq_limit: int, softness: float | None) -> torch.Tensor:
    """Weight of each non-DC frequency ``k = 1 .. n_freqs`` in the low-frequency score.

    1 for ``k <= freq_limit``; above it ``1 / (1 + j ** softness)`` for the ``j``-th frequency past the
    limit (a soft cut-off, Tseng et al.), or 0 with ``softness=None``.
    """
    weights = torch.ones(n_freqs)
    if freq_limit < n_freqs:
        past = torch.arange(1, n_freqs - freq_limit + 1, dtype=torch.float32)
        weights[freq_limit:] = 0.0 if softness is None else 1.0 / (1.0 + past ** softness)
    return weights


def default_freq_limit(length: int) -> int:
    """The cut-off frequency index for a window of ``length`` bases: a period of about 6.7 bases.

    Tseng et al. use ``k = 150`` for 1000-bp inputs (``pi k / L``); the same period gives ``0.15 L``.
    """
    return max(1, int(round(0.15 * length)))


def fourier_penalty(
    attributions: torch.Tensor, freq_limit: int | None = None, softness: float | None = 0.2, sigma: int = 3,
) -> torch.Tensor:
    """Tseng et al.'s Fourier attribution prior: the high-frequency share of the attribution track's spectrum.

    Parameters
    ----------
    attributions
        Gradient x input ``(N, 4, L)``.
    freq_limit
        Highest frequency index counted as low (``pi k / L`` radians per base); default
        :func:`default_freq_limit`.
    softness
        Exponent of the soft cut-off past ``freq_limit`` (``None``: hard cut-off).
    sigma
        Gaussian smoothing of the ``|attribution|`` track, in bases (window ``2 sigma + 1``).

    Returns
    -------
    torch.Tensor
        Scalar in ``[0, 1]``: mean over the batch of ``1 - sum_k w_k |F_k| / sum_k' |F_k'|``, where ``F`` is
        the real FFT of the smoothed track, the denominator includes the DC term and the sum in the
        numerator does not. A track with all its power at low frequencies scores near 0.
    """
    track = attributions.float().abs().sum(dim=1)  # (N, L)
    kernel = gaussian_kernel(sigma).to(track.device)
    smooth = nn.functional.conv1d(track[:, None], kernel[None, None], padding=len(kernel) // 2)[:, 0]
    magnitudes = torch.fft.rfft(smooth, dim=-1).abs()  # (N, L // 2 + 1)
    total = magnitudes.sum(dim=-1, keepdim=True)
    total = torch.where(total > 0, total, torch.ones_like(total))
    shares = (magnitudes / total)[:, 1:]
    limit = default_freq_limit(attributions.shape[-1]) if freq_limit is None else freq_limit
    weights = frequency_weights(shares.shape[-1], limit, softness).to(shares.device)
    return (1.0 - (shares * weights).sum(dim=-1)).mean()


def positive_thresholds(labels: np.ndarray, task: str, quantile: float | None) -> np.ndarray:
    """Per task, the label a window must exceed to count as a positive for :func:`fourier_prior_term`.

    Parameters
    ----------
    labels
        ``(N, T)`` training labels (the training split, not the batch).
    task
        ``classification`` (labels 0/1): the threshold is 0.5, so a positive is a label of 1, Tseng et al.'s
        ``status == 1``. ``regression``: the ``quantile`` of each task's training labels.
    quantile
        In ``[0, 1)``; ``None``: ``-inf`` for every task, so that every window is a positive (seqsal's
        behaviour before the prior followed Tseng et al.; kept for the comparison in ``benchmarks/RESULTS.md``).

    Returns
    -------
    np.ndarray
        ``(T,)`` float32 thresholds: a window is positive where its label is *strictly* above.

    Notes
    -----
    Tseng et al.'s positives are peaks: for their binary models, windows labelled bound; for their profile
    models, the peak windows, with sampled background windows as negatives. A regression label (a peak's
    signal, an activity) has no such flag; the windows whose label lies above a quantile of the training
    labels are the ones a practitioner would call "peaks" or "active". The default quantile (0.5,
    :class:`seqsal.train_options.TrainOptions`) makes the upper half of the windows the positives: every window with
    no site and weak signal is left out, whatever the labels' units, and a labels file of peaks only (every
    window has signal) still keeps half of its windows for the prior.
    """
    labels = np.asarray(labels, dtype=np.float64)
    if quantile is None:
        return np.full(labels.shape[1], -np.inf, dtype=np.float32)
    if not 0.0 <= quantile < 1.0:
        raise ValueError(f"quantile {quantile} is not in [0, 1)")
    if task == "classification":
        return np.full(labels.shape[1], 0.5, dtype=np.float32)
    return np.quantile(labels, quantile, axis=0).astype(np.float32)


def positive_windows(labels: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """``(N,)`` bool: windows whose label ``(N, T)`` is above its task's threshold ``(T,)`` in at least one task.

    The gradient the prior constrains is that of the summed tasks (:func:`input_gradients`), so a window that
    is a positive of any task gets the term (Tseng et al. aggregate the tasks' gradients the same way).
    """
    return (labels.float() > thresholds.to(labels.device).float()).any(dim=1)


def fourier_prior_term(attributions: torch.Tensor, positives: torch.Tensor, freq_limit: int | None = None,
                       softness: float | None = 0.2, sigma: int = 3) -> torch.Tensor:
    """The Fourier prior of a batch as Tseng et al. apply it: :func:`fourier_penalty` of the positive windows only.

    Parameters
    ----------
    attributions
        Gradient x input ``(N, 4, L)``, with its graph.
    positives
        ``(N,)`` bool (:func:`positive_windows`).
    freq_limit, softness, sigma
        As in :func:`fourier_penalty`.

    Returns
    -------
    torch.Tensor
        Scalar: the mean over the positive windows of the high-frequency share (in ``[0, 1]``); 0 when the batch
        has none (no term, no gradient).

    Notes
    -----
    Tseng, Shrikumar & Kundaje (NeurIPS 2020), and their code (github.com/amtseng/fourier_attribution_priors,
    ``fourier_att_prior_loss``, binary and profile models alike) compute the Fourier loss on the examples whose
    ``status`` is 1 and average it over those. A negative (background) window has no motif whose attribution
    could be smoothed; the share that the prior measures is a ratio, so on such a window the model can only
    lower it by spreading broad, low-frequency attribution over background sequence. Applied to every window,
    that is what seqsal's first version measured (``benchmarks/RESULTS.md``, issue 16: the top base moved from
    the sites into background far from them, AUPRC fell). An early version of their binary model also gave
    negatives an L1 penalty on the rectified gradients; their released training code does not, and it is not
    used here: in a regression, the windows below the threshold include those with repressor sites (labels
    below the background), whose attribution is real signal that an L1 penalty would shrink.
    """
    if not bool(positives.any()):
        return attributions.new_zeros((), dtype=torch.float32)
    return fourier_penalty(attributions[positives], freq_limit, softness, sigma)


def randomise_positions(x: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A copy of one-hot ``x`` ``(N, 4, L)`` with the positions in ``mask`` ``(N, L)`` replaced by uniform random bases.

    The draws come from ``generator`` (default: torch's global generator, which :func:`seqsal.train.train_model`
    seeds per epoch, so that ``--resume`` reproduces them).
    """
    bases = torch.randint(0, 4, mask.shape, device=x.device, generator=generator)
    random = nn.functional.one_hot(bases, 4).permute(0, 2, 1).to(x.dtype)
    return torch.where(mask[:, None, :].to(torch.bool), random, x)


@dataclass
class Counterfactuals:
    """Windows with a masked region replaced by random bases, for :func:`mask_term`.

    Attributes
    ----------
    inputs
        One-hot ``(M, 4, L)``.
    index
        ``(M,)`` long: the row of the batch each one was made from.
    sign
        ``(M,)`` float: ``+1`` for an M- (penalised) region, ``-1`` for an M+ (rewarded) one.
    """

    inputs: torch.Tensor
    index: torch.Tensor
    sign: torch.Tensor


def mask_counterfactuals(x: torch.Tensor, exclude: torch.Tensor | None, include: torch.Tensor | None,
                         generator: torch.Generator | None = None) -> Counterfactuals | None:
    """One counterfactual per window and non-empty mask: ``x`` with the M- (or M+) bases randomised.

    ``x`` one-hot ``(N, 4, L)``; ``exclude``, ``include`` boolean ``(N, L)`` or ``None``. ``None`` when no window
    has a masked position.
    """
    parts = []
    for mask, sign in ((exclude, 1.0), (include, -1.0)):
        if mask is None:
            continue
        rows = torch.nonzero(mask.any(dim=-1)).flatten()
        if len(rows):
            inputs = randomise_positions(x[rows], mask[rows], generator)
            parts.append((inputs, rows, torch.full((len(rows),), sign, device=x.device)))
    if not parts:
        return None
    return Counterfactuals(*(torch.cat([part[k] for part in parts]) for k in range(3)))


def mask_term(outputs: torch.Tensor, counterfactual_outputs: torch.Tensor, counterfactuals: Counterfactuals,
              spread: torch.Tensor) -> torch.Tensor:
    """The mask prior from the model's outputs on the batch ``(N, T)`` and on its counterfactuals ``(M, T)``.

    Returns ``(sum over M- rows of D ** 2 / v  -  sum over M+ rows of D ** 2 / (D ** 2 + v)) / N`` summed over
    tasks, with ``D = f(x_index) - f(counterfactual)`` and ``v = spread`` ``(T,)`` (no graph; floored at 1e-8).
    See :func:`mask_penalty`.
    """
    v = spread.detach().float().clamp_min(1e-8)
    squared = (outputs.float()[counterfactuals.index] - counterfactual_outputs.float()) ** 2
    penalised = squared / v
    rewarded = squared / (squared + v)
    sign = counterfactuals.sign[:, None]
    term = torch.where(sign > 0, penalised, -rewarded)
    return term.sum() / max(len(outputs), 1)


def mask_penalty(
    forward: Forward, x: torch.Tensor, exclude: torch.Tensor | None, include: torch.Tensor | None,
    spread: torch.Tensor, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The M-/M+ mask prior on the counterfactual (completeness) attribution of each masked region.

    Parameters
    ----------
    forward
        The model, ``(n, 4, L)`` -> ``(n, T)``, with its graph to the weights.
    x
        One-hot ``(N, 4, L)``: the batch. It and its counterfactuals (:func:`mask_counterfactuals`) go through
        ``forward`` in one pass; :func:`seqsal.train.train_step` does the same with the task's own pass.
    exclude, include
        Boolean masks ``(N, L)`` of the positions that must not matter (M-) and that should (M+), or ``None``.
    spread
        ``(T,)`` the scale of each task: :func:`seqsal.train.train_model` passes the variance of each task's
        labels over the training split (taken without a graph; floored at 1e-8).
    generator
        Random bases for :func:`randomise_positions`.

    Returns
    -------
    torch.Tensor
        Scalar: ``(sum_i sum_t D-_it ** 2 / v_t  -  sum_i sum_t D+_it ** 2 / (D+_it ** 2 + v_t)) / N``, where
        ``D-_i = f(x_i) - f(x~-_i)`` with ``x~-_i`` the window with its M- bases replaced by random bases (``D+``
        the same for M+), ``v = spread``, and windows without a mask add 0 (:func:`mask_term`). Zero when the
        model ignores M- and there is no M+; the M+ part is a reward in ``(-1, 0]`` per window and task.

    Notes
    -----
    The idea is Ross, Hughes & Doshi-Velez, "Right for the right reasons: training differentiable models by
    constraining their explanations", IJCAI 2017: penalise the attribution inside the regions an expert marks
    as irrelevant. Their attribution is the local input gradient at ``x``; on the planted-adapter experiment
    (``benchmarks/RESULTS.md``, issue 16) a penalty on the local gradient, Ross et al.'s squared gradient or a
    scale-free share of the base-centred gradient's norm alike, was met by *gradient masking* (Athalye,
    Carlini & Wagner, "Obfuscated gradients give a false sense of security", ICML 2018): the model flattened
    itself around the observed adapter (the first-order prediction of the adapter's effect fell from 2.6 to
    0.8) while the real effect of removing it stayed at 0.52, or it stopped learning altogether at a weight
    that forced the reliance down. The attribution penalised here is the one with *completeness*
    (Sundararajan, Taly & Yan, "Axiomatic attribution for deep networks", ICML 2017): the integrated or
    expected gradients (Erion et al., "Improving performance of deep learning models with axiomatic
    attribution priors and expected gradients", Nature Machine Intelligence 2021, who train with such priors)
    of the M- bases against a baseline with those bases replaced sum exactly to ``f(x) - f(x~-)``, so their
    total is computed with one forward pass and no path integral or double backpropagation; one random
    baseline per window and step is a one-sample estimate of the expected squared effect over baselines. It is
    the reliance the issue measures, made differentiable, so it cannot be met by flattening the function
    locally, and it does not reward damping the model everywhere: the outputs are held to the labels by the
    task loss. Dividing by the labels' variance puts it in the units of the task's MSE divided by the same
    variance (``1 - R^2``), whatever the units of the labels. (The predictions' own variance was tried: on the
    tiny test world it removed the reliance at weight 1 but made validation r erratic at 3 and above, plausibly
    because it is near zero at initialisation.) The M+ reward is the same attribution of the M+ bases,
    saturating at the label spread so that a model cannot collect it by inflating the effect of M+ without
    bound.

    The counterfactuals must go through the model in the same forward pass as the task's batch
    (:func:`seqsal.train.train_step` appends them to it): a first version evaluated them in eval mode (no
    dropout, batch-norm running statistics), and the model met the penalty by collapsing its eval-mode outputs
    (held-out predictions with a standard deviation of 0.04 against the plain model's 0.81; validation r <= 0.05
    in every epoch) while its training loss, in train mode, fell as the plain model's did. In one pass, the pair shares the task's batch statistics; each gets its own dropout
    mask, so ``D`` also carries dropout noise, and the term also asks for outputs stable under dropout (the
    R-Drop regulariser of Liang et al., NeurIPS 2021, in effect). The counterfactuals take part in that
    batch's normalisation statistics (at most one extra window per masked window and mask).
    """
    counterfactuals = mask_counterfactuals(x, exclude, include, generator)
    if counterfactuals is None:
        return x.new_zeros((), dtype=torch.float32)
    outputs = forward(torch.cat([x, counterfactuals.inputs]))
    return mask_term(outputs[:len(x)], outputs[len(x):], counterfactuals, spread)


def _map_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean over samples of ``|a - b|^2 / (|a|^2 + |b|^2)`` (scale-free: shrinking the maps does not lower it)."""
    a, b = a.float().flatten(1), b.float().flatten(1)
    return (((a - b) ** 2).sum(dim=1) / ((a ** 2).sum(dim=1) + (b ** 2).sum(dim=1) + 1e-12)).mean()


def centred_pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tracks ``a``, ``b`` ``(N, L)`` minus their common mean per position over the batch (both sets pooled).

    A track that does not depend on the sequence (the same ``c(l)`` in every window) is removed from both when it
    is mirror-symmetric, since then ``a`` and the mapped-back ``b`` both carry ``c``; an asymmetric one leaves
    ``(c - c_reversed) / 2`` and its negative, a real inconsistency, still penalised.
    """
    mean = 0.5 * (a.mean(dim=0, keepdim=True) + b.mean(dim=0, keepdim=True))
    return a - mean, b - mean


def rc_consistency(forward: Forward, x: torch.Tensor, attributions: torch.Tensor, centre: bool = True) -> torch.Tensor:
    """Distance between the map of ``x`` and the mapped-back map of its reverse complement.

    Parameters
    ----------
    forward
        The model (predictions ``(N, T)``).
    x
        One-hot ``(N, 4, L)``.
    attributions
        Gradient x input of ``x`` ``(N, 4, L)``, with its graph.
    centre
        Centre the per-base tracks per position over the batch first (:func:`centred_pair`; default). ``False``:
        the uncentred distance of seqsal's first version.

    Returns
    -------
    torch.Tensor
        Scalar in ``[0, 2]`` (:func:`_map_distance` of the per-base tracks, gradient x input summed over the 4
        channels, of ``x`` and of ``rc(x)`` reversed); zero for a model with ``f(x) = f(rc(x))``.

    Notes
    -----
    On one-hot input, gradient x input is non-zero only at the observed base, and the mapped-back map of
    ``rc(x)`` is too, at the same base; so the distance of the ``(4, L)`` maps equals that of the summed
    ``(L,)`` tracks (bases that are N contribute 0 to both). Uncentred, the distance is met at no cost by a
    sequence-independent, mirror-symmetric positional profile ``c(l) = c(L - 1 - l)``: it is unchanged by the
    reverse complement mapped back, and because the distance is scale-free, inflating it lowers the term
    whatever the sequence-dependent part does. Trained with that term, the maps of both simulated worlds
    were dominated by such a profile, of a sign that differed between seeds (``benchmarks/RESULTS.md``, issue
    16). Centring removes the component of the maps shared by every window of the batch, so only the
    sequence-dependent part is compared and only its size counts in the denominator. The batch mean is a
    one-batch estimate (with batch size 1 both centred tracks are 0 and the term is 0); the same per-position
    centring over windows is what the experiment's diagnostics used to separate the profile from the maps.
    """
    x_rc = reverse_complement_one_hot(x)
    _, gradients_rc = input_gradients(forward, x_rc)
    track = attributions.float().sum(dim=1)
    track_rc = (gradients_rc * x_rc).float().sum(dim=1).flip(-1)
    if centre:
        track, track_rc = centred_pair(track, track_rc)
    return _map_distance(track, track_rc)


def shift_consistency(forward: Forward, x: torch.Tensor, x_shifted: torch.Tensor, shift: int,
                      attributions: torch.Tensor) -> torch.Tensor:
    """Distance between the map of ``x`` and that of a copy shifted by ``shift`` bases, on their overlap.

    Parameters
    ----------
    x, x_shifted
        One-hot ``(N, 4, L)``; ``x_shifted[..., l] == x[..., l + shift]`` (cut ``shift`` bases further along
        the genome).
    shift
        Bases, ``0 < shift < L``.
    attributions
        Gradient x input of ``x``, with its graph.

    Returns
    -------
    torch.Tensor
        Scalar: :func:`_map_distance` of ``attributions[..., shift:]`` and the shifted map's ``[..., :L - shift]``.
    """
    _, gradients_shifted = input_gradients(forward, x_shifted)
    length = x.shape[-1]
    return _map_distance(attributions[..., shift:], (gradients_shifted * x_shifted)[..., :length - shift])


def _random_bases(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(4, n)`` one-hot of uniformly random bases."""
    out = np.zeros((4, n), dtype=np.float32)
    out[rng.integers(0, 4, size=n), np.arange(n)] = 1.0
    return out


def cutout_starts(saliency: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Start of the stretch of each length with the largest summed saliency.

    Parameters
    ----------
    saliency
        ``(N, L)`` non-negative scores (``|gradient x input|``).
    lengths
        ``(N,)`` stretch lengths, ``1 <= length <= L``.

    Returns
    -------
    np.ndarray
        ``(N,)`` int starts (the first maximum).
    """
    cumulative = np.concatenate([np.zeros((len(saliency), 1)), np.cumsum(saliency, axis=1)], axis=1)
    starts = np.empty(len(saliency), dtype=np.int64)
    for i, length in enumerate(lengths):
        sums = cumulative[i, length:] - cumulative[i, :-length]
        starts[i] = int(np.argmax(sums))
    return starts


CUTOUT_FILLS = ("random", "n")


def apply_cutout(x: np.ndarray, chosen: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                 rng: np.random.Generator, fill: str = "random") -> np.ndarray:
    """A copy of ``x`` ``(N, 4, L)`` with ``[start, start + length)`` of each chosen sample replaced.

    ``fill``: ``random``, uniformly random bases (drawn from ``rng``); ``n``, Ns (all-zero one-hot columns, the
    encoding of N), the two fills the issue names.
    """
    if fill not in CUTOUT_FILLS:
        raise ValueError(f"cutout fill {fill!r}: choose one of {CUTOUT_FILLS}")
    out = x.copy()
    for i in np.flatnonzero(chosen):
        stretch = slice(starts[i], starts[i] + lengths[i])
        out[i, :, stretch] = _random_bases(int(lengths[i]), rng) if fill == "random" else 0.0
    return out


def draw_cutout(n: int, length: int, probability: float, span: tuple[int, int],
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Which samples get a cutout (each with ``probability``) and the length of each, uniform in ``span``."""
    chosen = rng.random(n) < probability
    lengths = rng.integers(span[0], min(span[1], length) + 1, size=n)
    return chosen, lengths


def salient_cutout(forward: Forward, x: np.ndarray, probability: float, span: tuple[int, int],
                   rng: np.random.Generator, device: torch.device | str = "cpu", fill: str = "random") -> np.ndarray:
    """Saliency-guided cutout: replace the most salient stretch of a drawn length by random bases (or Ns).

    Parameters
    ----------
    forward
        The current model (predictions ``(N, T)``); its gradients are taken without a graph (no weight update).
    x
        One-hot ``(N, 4, L)`` float32.
    probability
        Chance that a sample gets a cutout.
    span
        ``(min, max)`` stretch length in bases.
    rng
        Draws which samples, the lengths and the random bases.
    device
        Where the model runs.
    fill
        ``random`` bases or ``n`` (all-zero columns): :func:`apply_cutout`.

    Returns
    -------
    np.ndarray
        The augmented copy of ``x``.
    """
    chosen, lengths = draw_cutout(len(x), x.shape[-1], probability, span, rng)
    if not chosen.any():
        return x
    batch = torch.as_tensor(x[chosen], device=device)
    _, gradients = input_gradients(forward, batch, create_graph=False)
    saliency = np.zeros(x.shape[::2], dtype=np.float64)
    saliency[chosen] = (gradients * batch).sum(dim=1).abs().detach().float().cpu().numpy()
    return apply_cutout(x, chosen, cutout_starts(saliency, lengths), lengths, rng, fill)


def random_cutout(x: np.ndarray, probability: float, span: tuple[int, int], rng: np.random.Generator,
                  fill: str = "random") -> np.ndarray:
    """The control of :func:`salient_cutout`: the stretch starts at a uniformly random position (same lengths, same
    ``fill``)."""
    chosen, lengths = draw_cutout(len(x), x.shape[-1], probability, span, rng)
    starts = np.array([rng.integers(0, x.shape[-1] - n + 1) for n in lengths], dtype=np.int64)
    return apply_cutout(x, chosen, starts, lengths, rng, fill)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two 1-D arrays (average ranks for ties); NaN when one is constant."""
    import pandas as pd  # its ranks: scipy is no dependency of seqsal (floors32)

    ra, rb = (pd.Series(np.asarray(v, dtype=np.float64).ravel()).rank(method="average").to_numpy() for v in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")
