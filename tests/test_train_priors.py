"""The attribution terms of seqsal.train_priors against independent computations on tiny models."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch
from torch import nn

from seqsal.encode import reverse_complement_one_hot
from seqsal.train_priors import (cutout_starts, fourier_penalty, input_gradients, mask_penalty, random_cutout,
                                 randomise_positions, rc_consistency, salient_cutout, shift_consistency)


def _one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), dtype=np.float32)
    x[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    return torch.as_tensor(x)


def _numpy_fourier(attr: np.ndarray, limit: int, softness: float, sigma: int) -> float:
    delta = np.zeros(2 * sigma + 1)
    delta[sigma] = 1
    kernel = scipy.ndimage.gaussian_filter(delta, sigma=sigma, truncate=1)
    losses = []
    for sample in attr:
        track = np.abs(sample).sum(axis=0)
        smooth = np.convolve(track, kernel, mode="same")
        mags = np.abs(np.fft.rfft(smooth))
        shares = mags[1:] / mags.sum()
        weights = np.ones_like(shares)
        weights[limit:] = 1 / (1 + np.arange(1, len(shares) - limit + 1) ** softness)
        losses.append(1 - (shares * weights).sum())
    return float(np.mean(losses))


def test_fourier_penalty_equals_a_numpy_fft_computation():
    rng = np.random.default_rng(1)
    attr = rng.normal(size=(5, 4, 120)).astype(np.float32)
    for limit, softness, sigma in ((18, 0.2, 3), (10, 0.5, 2), (30, 0.2, 0)):
        expected = _numpy_fourier(attr, limit, softness, sigma)
        got = float(fourier_penalty(torch.as_tensor(attr), limit, softness, sigma))
        assert abs(got - expected) < 1e-5, (limit, got, expected)


def test_fourier_penalty_is_lower_for_a_smooth_track_than_for_noise():
    length = 200
    smooth = np.exp(-0.5 * ((np.arange(length) - 100) / 15) ** 2)[None, None].repeat(4, 1).astype(np.float32)
    noise = np.random.default_rng(0).normal(size=(1, 4, length)).astype(np.float32)
    assert float(fourier_penalty(torch.as_tensor(smooth))) < 0.5 * float(fourier_penalty(torch.as_tensor(noise)))


class _Masked(nn.Module):
    """A conv model that cannot see positions ``[lo, hi)``."""

    def __init__(self, length: int, lo: int, hi: int):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 3, 1)
        visible = torch.ones(length)
        visible[lo:hi] = 0
        self.register_buffer("visible", visible)

    def forward(self, x):
        return torch.tanh(self.conv(x * self.visible)).sum(dim=(1, 2))[:, None]


def _masks(n: int, length: int, lo: int, hi: int, rows: slice = slice(None)) -> torch.Tensor:
    mask = torch.zeros(n, length, dtype=torch.bool)
    mask[rows, lo:hi] = True
    return mask


def test_randomise_positions_changes_only_the_masked_positions_and_stays_one_hot():
    x = _one_hot(6, 40)
    mask = _masks(6, 40, 10, 30, slice(0, 3))
    out = randomise_positions(x, mask, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, :, ~mask[0]], x[:, :, ~mask[0]]) and torch.equal(out[3:], x[3:])
    assert torch.allclose(out.sum(dim=1), torch.ones(6, 40))
    assert not torch.equal(out[:3, :, 10:30], x[:3, :, 10:30])


def test_mask_prior_is_zero_for_a_model_blind_to_the_excluded_positions_and_equals_the_counterfactual_effect():
    model, x = _Masked(50, 10, 20), _one_hot(4, 50)
    spread = torch.tensor([0.5])
    assert float(mask_penalty(model, x, _masks(4, 50, 10, 20), None, spread).detach()) == 0.0
    outside = _masks(4, 50, 30, 35, slice(1, 4))  # window 0 has no M-: it adds 0
    got = float(mask_penalty(model, x, outside, None, spread, torch.Generator().manual_seed(3)).detach())
    counterfactual = randomise_positions(x[1:], outside[1:], torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = float(((model(x[1:]) - model(counterfactual)) ** 2 / 0.5).sum() / 4)
    assert expected > 0 and abs(got - expected) < 1e-6
    # M+ over what the model sees: a reward D^2 / (D^2 + v) in (-1, 0] per window
    reward = float(mask_penalty(model, x, None, _masks(4, 50, 20, 50), spread).detach())
    assert -1.0 < reward < 0.0


def test_mask_prior_sees_an_effect_that_the_local_gradient_hides():
    """Gradient masking: a detector that is saturated (flat) at the observed artefact has no input gradient there, so
    a penalty on the local gradient (Ross et al. 2017) is zero, while removing the artefact moves the prediction."""
    x = torch.zeros(3, 4, 30)
    x[:, 0, :] = 1.0  # all A; the "artefact" is the A run at 5-15

    def detector(t: torch.Tensor) -> torch.Tensor:  # 0 while at least 9 of the 10 bases are A, rising below that
        return torch.relu(9.0 - t[:, 0, 5:15].sum(dim=1, keepdim=True))

    region = _masks(3, 30, 5, 15)
    _, gradients = input_gradients(detector, x)
    assert float((gradients ** 2).sum()) == 0.0
    assert float(mask_penalty(detector, x, region, None, torch.ones(1)).detach()) > 1.0


def test_mask_prior_backpropagates_to_the_weights():
    model, x = _Masked(50, 10, 20), _one_hot(4, 50)
    mask_penalty(model, x, _masks(4, 50, 25, 40), None, torch.ones(1)).backward()
    assert model.conv.weight.grad is not None and float(model.conv.weight.grad.abs().sum()) > 0


class _Tiny(nn.Module):
    def __init__(self, symmetric: bool):
        super().__init__()
        torch.manual_seed(3)
        self.conv, self.symmetric = nn.Conv1d(4, 6, 5, padding=2), symmetric
        self.dense = nn.Linear(6 * 40, 1)

    def one(self, x):
        return self.dense(torch.relu(self.conv(x)).flatten(1))

    def forward(self, x):
        return self.one(x) + self.one(reverse_complement_one_hot(x)) if self.symmetric else self.one(x)


def test_rc_consistency_is_zero_for_a_reverse_complement_symmetric_model():
    x = _one_hot(6, 40)
    for symmetric, check in ((True, lambda v: v < 1e-10), (False, lambda v: v > 1e-3)):
        model = _Tiny(symmetric)
        _, gradients = input_gradients(model, x)
        value = float(rc_consistency(model, x, gradients * x))
        assert check(value), (symmetric, value)


def test_shift_consistency_is_zero_for_a_position_blind_model_on_the_overlap():
    torch.manual_seed(0)
    conv = nn.Conv1d(4, 1, 1)  # per-base scores: the map of a base does not depend on where it sits

    def model(x):
        return conv(x).sum(dim=(1, 2))[:, None]

    long = _one_hot(3, 60)
    x, shifted = long[..., :50], long[..., 4:54]
    _, gradients = input_gradients(model, x)
    assert float(shift_consistency(model, x, shifted, 4, gradients * x)) < 1e-10


def test_cutout_starts_finds_the_most_salient_stretch():
    saliency = np.zeros((2, 30))
    saliency[0, 12:17] = 1
    saliency[1, 3] = 5
    assert cutout_starts(saliency, np.array([5, 1])).tolist() == [12, 3]


def test_salient_cutout_replaces_the_stretch_the_model_uses_and_random_cutout_keeps_the_rest():
    model = _Masked(50, 0, 30)  # sees only positions 30..49
    x = _one_hot(8, 50).numpy()
    out = salient_cutout(model, x, 1.0, (10, 10), np.random.default_rng(0))
    changed = (out != x).any(axis=1)
    assert not changed[:, :30].any() and changed[:, 30:].any()
    assert np.allclose(out.sum(axis=1), 1)
    control = random_cutout(x, 0.0, (10, 10), np.random.default_rng(0))
    assert np.array_equal(control, x)


def _blank_runs(out: np.ndarray) -> list[np.ndarray]:
    """Per sample, the positions whose one-hot column is all zero (an N)."""
    return [np.flatnonzero(row.sum(axis=0) == 0) for row in out]


def test_n_fill_blanks_one_stretch_and_keeps_every_other_base_for_both_cutouts():
    model = _Masked(50, 0, 30)  # sees only positions 30..49
    x = _one_hot(8, 50).numpy()
    salient = salient_cutout(model, x, 1.0, (10, 10), np.random.default_rng(0), fill="n")
    control = random_cutout(x, 1.0, (10, 10), np.random.default_rng(0), fill="n")
    for out, lowest in ((salient, 30), (control, 0)):
        for row, blank in zip(out, _blank_runs(out)):
            assert len(blank) == 10 and np.array_equal(blank, np.arange(blank[0], blank[0] + 10)) and blank[0] >= lowest
        kept = out.sum(axis=1, keepdims=True) > 0
        assert np.array_equal(np.where(kept, x, 0), out)  # bases outside the stretch untouched
    assert all(len(b) == 0 for b in _blank_runs(salient_cutout(model, x, 1.0, (10, 10), np.random.default_rng(0))))
    with pytest.raises(ValueError, match="fill"):
        random_cutout(x, 1.0, (10, 10), np.random.default_rng(0), fill="x")



# --- helper mut31 (session 31): mutants of the priors the suite let pass ---


def test_default_freq_limit_is_tsengs_cut():  # T04 T05: k = 150 for 1000 bp (0.15 L), never below 1
    from seqsal.train_priors import default_freq_limit
    assert [default_freq_limit(n) for n in (1000, 200, 3)] == [150, 30, 1]


def test_fourier_penalty_of_an_all_zero_map():  # T08: no attribution at all is a finite penalty (1: no low share)
    import torch
    from seqsal.train_priors import fourier_penalty
    assert float(fourier_penalty(torch.zeros(2, 4, 50))) == 1.0


def test_mask_term_small_spread():  # T13: the spread is floored at 1e-8 only (a small label variance is kept)
    from seqsal.train_priors import Counterfactuals, mask_term
    outputs = torch.tensor([[1.0], [0.0]])
    cf = Counterfactuals(torch.zeros(1, 4, 5), torch.tensor([0]), torch.tensor([1.0]))
    term = mask_term(outputs, torch.tensor([[0.99]]), cf, torch.tensor([1e-4]))
    assert float(term) == pytest.approx(0.01 ** 2 / 1e-4 / 2, rel=1e-4)


def test_random_cutout_reaches_the_last_base():  # T23: a stretch may end at the window's last base
    x = np.ones((200, 4, 10), np.float32)
    out = random_cutout(x, 1.0, (9, 9), np.random.default_rng(0), fill="n")
    assert (out[:, :, 9] == 0).all(axis=1).any() and (out[:, :, 0] == 0).all(axis=1).any()


def test_spearman_of_a_monotone_pair():  # T27: Spearman's rho is 1 / -1 for monotone pairs (both ranks centred)
    from seqsal.train_priors import spearman
    a = np.array([3.0, 1.0, 2.0, 5.0])
    assert spearman(a, a ** 3) == pytest.approx(1.0) and spearman(a, -a) == pytest.approx(-1.0)


def test_ranks_need_no_scipy_and_average_ties():
    """floors32: auroc and spearman imported scipy, which seqsal does not declare: `seqsal train --task
    classification` stopped after its first epoch in an install made from pyproject.toml."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['scipy'] = None\n"
            "from seqsal.train_report import auroc\nfrom seqsal.train_priors import spearman\n"
            "print(auroc([0.1, 0.4, 0.4, 0.9], [0, 0, 1, 1]), spearman([1, 2, 2, 3], [1, 3, 2, 4]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    from scipy.stats import rankdata, spearmanr  # the test extra has scipy: the values it gives
    auc, rho = map(float, out.stdout.split())
    ranks = rankdata([0.1, 0.4, 0.4, 0.9])
    assert auc == pytest.approx((ranks[2:].sum() - 3) / 4) == 0.875
    assert rho == pytest.approx(spearmanr([1, 2, 2, 3], [1, 3, 2, 4]).statistic)
