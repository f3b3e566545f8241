"""The completeness check of baseline methods forgives float32 rounding of the model's outputs
(:func:`seqsal.methods.references.rounding_allowance`): a low-complexity window, whose dinucleotide shuffles are the
window itself, has attributions and ``f(x) - mean f(baselines)`` that are both rounding, and is not refused as
"incomplete"; a missing DeepLIFT rule (or a coarse IG path) on ordinary sequence of the same length still is."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import seqsal
from seqsal.encode import one_hot_encode
from seqsal.engine import relative_errors
from seqsal.methods import deep_lift_shap, integrated_gradients
from seqsal.methods.references import (
    IncompleteAttribution,
    check_completeness,
    relative_completeness,
    rounding_allowance,
)
from helpers import StraightThrough, frozen, random_one_hot

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo" / "model.safetensors"
EPS = float(torch.finfo(torch.float32).eps)
LOW_COMPLEXITY = {"ACGT repeat": "ACGT" * 125, "poly-A": "A" * 500, "AT repeat": "AT" * 250}


@pytest.fixture(scope="module")
def demo() -> nn.Module:
    return seqsal.load_model(DEMO).module


class Unsupported(nn.Module):
    """conv (4 -> 8, width 9) -> straight-through ReLU -> 1x1 conv -> sum over positions: output (N, 1)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv1d(4, 8, 9, padding=4)
        self.head = nn.Conv1d(8, 1, 1)

    def forward(self, x):
        return self.head(StraightThrough.apply(self.conv(x))).sum(dim=-1)


def _one_hot(sequence: str) -> torch.Tensor:
    return torch.as_tensor(one_hot_encode(sequence))[None]


# ---------------------------------------------------------------- the statistic itself


def test_rounding_allowance_is_units_of_eps_times_the_outputs():
    prediction, delta = torch.tensor([1.0, -2.0, 0.0]), torch.tensor([0.5, 1.0, 0.0])
    expected = 256 * EPS * torch.tensor([1.0 + 0.5, 2.0 + 3.0, 0.0])
    torch.testing.assert_close(rounding_allowance(prediction, delta), expected, rtol=1e-6, atol=0)


def test_relative_completeness_forgives_rounding_only():
    """Zero attributions and a delta of a few ulps of f(x) ~ 1: all rounding (0, was 1); a real miss keeps the
    part beyond the allowance, relative to the same size as before."""
    zero = torch.zeros(3)
    delta = torch.tensor([EPS, 4 * EPS, 0.5])
    prediction = torch.tensor([1.0, 0.9, 1.0])
    allowance = rounding_allowance(prediction, delta)
    torch.testing.assert_close(relative_completeness(zero, zero, delta), torch.tensor([1.0, 1.0, 1.0]))
    relative = relative_completeness(zero, zero, delta, allowance)
    assert relative[:2].tolist() == [0.0, 0.0]
    assert float(relative[2]) == pytest.approx((0.5 - float(allowance[2])) / 0.5, rel=1e-6)
    assert float(relative[2]) > 0.999


def test_check_completeness_refuses_a_real_miss_with_the_prediction_given():
    projected = torch.zeros(2, 4, 10)
    check_completeness("deepshap", projected, torch.tensor([EPS, -2 * EPS]), 1e-3, "advice",
                       prediction=torch.tensor([1.0, 1.0]))
    with pytest.raises(IncompleteAttribution, match=r"^deepshap: the attributions miss f\(x\) - f\(reference\)"):
        check_completeness("deepshap", projected, torch.tensor([EPS, -2 * EPS]), 1e-3, "advice")
    with pytest.raises(IncompleteAttribution, match=r"by -0\.01 \(0\.99 of their size"):
        check_completeness("deepshap", projected, torch.tensor([EPS, 0.01]), 1e-3, "advice",
                           prediction=torch.tensor([1.0, 1.0]))


def test_engine_relative_errors_use_the_prediction():
    """A window whose attributions are 0 and whose error is 1 ulp of f(x) = 0.94 (the mean of 20 equal
    reference outputs rounds): 0, not 1; an error of 1 % of f(x) with the same zero maps
    stays 1 less the allowance."""
    x = _one_hot("ACGT" * 5).expand(2, 4, 20)
    hypothetical = torch.zeros_like(x)
    prediction = torch.tensor([0.94, 0.94])
    errors = torch.tensor([6e-8, 0.0094])
    relative = relative_errors(x, hypothetical, errors, prediction)
    assert float(relative[0]) == 0.0
    # delta = -errors: f(baselines) = 0.9494, allowance 256 eps (0.94 + 0.9494) = 5.8e-5 of the 0.0094 miss
    assert float(relative[1]) == pytest.approx(1 - 256 * EPS * (0.94 + 0.9494) / 0.0094, rel=1e-4)


# ---------------------------------------------------------------- the methods' own checks (the notebook API)


@pytest.mark.parametrize("name", list(LOW_COMPLEXITY))
def test_ig_over_shuffles_passes_a_low_complexity_window(demo, name):
    """Was: ``ig: the attributions miss f(x) - f(reference) by 2.24e-08 (1 of their size; tolerance 0.05)``."""
    x = _one_hot(LOW_COMPLEXITY[name])
    maps = seqsal.attribute(demo, x, method="ig", baseline="shuffle", check=0.05)
    assert maps.shape == x.shape and float(maps.abs().max()) < 1e-5


@pytest.mark.parametrize("name", list(LOW_COMPLEXITY))
def test_deepshap_passes_a_low_complexity_window(demo, name):
    x = _one_hot(LOW_COMPLEXITY[name])
    maps = seqsal.attribute(demo, x, method="deepshap")
    assert maps.shape == x.shape and float(maps.abs().max()) < 1e-5


def test_a_missing_rule_and_a_coarse_path_are_still_refused_at_the_same_length():
    """The straight-through ReLU on 500 random bases: deepshap refuses it (its low-complexity windows pass: nothing
    to explain there); IG with 1 point from the zero baseline on the demo model's random windows is refused at its
    tolerance."""
    model = frozen(Unsupported())
    x = random_one_hot(2, 500, seed=3)
    with pytest.raises(IncompleteAttribution, match=r"^deepshap: "):
        deep_lift_shap(model, x, references=8)
    deep_lift_shap(model, _one_hot(LOW_COMPLEXITY["ACGT repeat"]), references=8)
    demo = seqsal.load_model(DEMO).module
    with pytest.raises(IncompleteAttribution, match=r"^ig: "):
        integrated_gradients(demo, random_one_hot(2, 500, seed=5), steps=1, check=0.05)


# ---------------------------------------------------------------- the engine (seqsal attribute)


def _genome(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    random = "".join(rng.choice(list("ACGT"), 600))
    path = tmp_path / "genome.fa"
    path.write_text(f">chrU\nACGTNNNNacgt\n>chrA\n{'A' * 600}\n>chrR\n{random}\n")
    return path


def test_the_engine_passes_low_complexity_regions_of_the_demo_model(tmp_path):
    """The user's case: ``chrU:0-12`` (ACGTNNNNacgt in a 500-bp window of N) through deepshap was refused with
    ``miss f(x) - mean f(baselines) by 1.19e-07 (1 of their size; tolerance 0.001)``."""
    regions = pd.DataFrame({"chrom": ["chrU", "chrA"], "start": [0, 50], "end": [12, 550], "name": ["u", "a"]})
    results = list(seqsal.iter_attributions(_genome(tmp_path), regions, str(DEMO), method="deepshap"))
    assert len(results) == 2
    for result in results:  # the projected maps are rounding (hypothetical ones need not be)
        assert result.completeness_error is not None and np.abs(result.hypothetical * result.one_hot).max() < 1e-5


def test_the_engine_still_refuses_a_missing_rule_on_ordinary_sequence(tmp_path):
    regions = pd.DataFrame({"chrom": ["chrA", "chrR"], "start": [50, 50], "end": [550, 550], "name": ["a", "r"]})
    with pytest.raises(IncompleteAttribution, match=r"region r \(chrR:50-550\)"):
        list(seqsal.iter_attributions(_genome(tmp_path), regions, frozen(Unsupported()), method="deepshap"))


def test_under_bf16_a_failed_check_names_the_precision_before_a_missing_rule(tmp_path):
    """The demo model (every rule right) through deepshap at ``--precision bf16`` misses completeness by ~0.1 % of
    the maps' size, bf16 rounding: the message blamed a missing DeepLIFT rule and advised other methods."""
    from seqsal.methods.registry import completeness_check

    regions = pd.DataFrame({"chrom": ["chr1"], "start": [1182], "end": [1782], "name": ["chr1_element1"]})
    genome = DEMO.parent / "genome.fa"
    assert len(list(seqsal.iter_attributions(genome, regions, str(DEMO), method="deepshap"))) == 1  # fp32: complete
    with pytest.raises(IncompleteAttribution, match=r"under --precision bf16 .* run deepshap with --precision fp32"):
        list(seqsal.iter_attributions(genome, regions, str(DEMO), method="deepshap", precision="bf16"))
    assert completeness_check("deepshap", "fp32") == completeness_check("deepshap")
    assert completeness_check("deepshap", "bf16")[0] == completeness_check("deepshap")[0]  # no looser tolerance
    assert completeness_check("saliency", "bf16") is None
