"""ISM that scales (issue 18): only the region's bases are mutated, and the receptive-field fast path of any traced
model (:mod:`seqsal.methods.receptive`) equals naive ISM, with naive ISM as the checked fallback."""
import logging
import sys

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqsal.attribution import Target
from seqsal.encode import one_hot_encode
from seqsal.engine import iter_region_attributions
from seqsal.errors import InputError
from seqsal.methods import hypothetical_attributions, ism, ism_deltas
from seqsal.methods import receptive
from seqsal.methods.ism import checked_trace_plan
from helpers import random_one_hot


class UserCNN(nn.Module):
    """A user's model (not a built-in): same and numeric padding, batch norm, a residual GELU, both poolings, a
    functional head over the mean of the length."""

    def __init__(self):
        super().__init__()
        self.c1, self.bn = nn.Conv1d(4, 16, 15, padding=7), nn.BatchNorm1d(16)
        self.c2 = nn.Conv1d(16, 16, 7, padding="same")
        self.c3 = nn.Conv1d(16, 8, 5, padding=2)
        self.fc = nn.Linear(8, 2)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.1, 0.1)
            self.bn.running_var.uniform_(0.5, 1.5)

    def forward(self, x):
        h = F.max_pool1d(torch.relu(self.bn(self.c1(x))), 4)
        h = h + F.gelu(self.c2(h))
        h = F.avg_pool1d(nn.functional.relu(self.c3(h)), 2)
        return self.fc(h.mean(dim=-1))


class Dilated(nn.Module):
    """A BPNet-like user model: dilated residual convolutions, a cropped profile head summed (no pooling)."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv1d(4, 8, 11, padding=5)
        self.dilated = nn.ModuleList([nn.Conv1d(8, 8, 3, padding=2 ** i, dilation=2 ** i) for i in range(1, 4)])
        self.head = nn.Conv1d(8, 1, 9, padding=4)

    def forward(self, x):
        h = torch.relu(self.first(x))
        for conv in self.dilated:
            h = h + torch.relu(conv(h))
        return 0.1 * self.head(h)[:, 0, 10:-10].sum(-1, keepdim=True)


class Counting(nn.Module):
    """Counts the sequences its inner model is run on without gradients (ISM's evaluations; not the engine's
    memory probe, a forward and backward pass)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.rows = inner, 0

    def forward(self, x):
        if not torch.is_grad_enabled():
            self.rows += x.shape[0]
        return self.inner(x)


def _frozen(model):
    torch.manual_seed(0)
    model = model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@pytest.mark.parametrize("build", [UserCNN, Dilated])
def test_traced_fast_path_equals_naive_ism(build):
    torch.manual_seed(1)
    model = _frozen(build())
    x = random_one_hot(2, 300, seed=3, n_run=(40, 44))
    assert checked_trace_plan(model, x[0], Target()) is not None
    fast, prediction = ism_deltas(model, x, fast=True, mutant_batch=77)
    naive, prediction_naive = ism_deltas(model, x, fast=False)
    torch.testing.assert_close(fast, naive, rtol=0, atol=1e-5)
    torch.testing.assert_close(prediction, prediction_naive, rtol=0, atol=1e-6)
    assert naive.abs().max() > 1e-3


def test_exported_and_torchscript_models_get_the_fast_path():
    model = _frozen(UserCNN())
    x = random_one_hot(1, 200, seed=5)
    naive, _ = ism_deltas(model, x, fast=False)
    program = torch.export.export(model, (random_one_hot(2, 200),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},)).module()
    scripted = torch.jit.script(model)
    for other in (program, scripted):
        fast, _ = ism_deltas(other, x, fast=True)
        torch.testing.assert_close(fast, naive, rtol=0, atol=1e-5)


def test_an_untraceable_model_gets_naive_ism_and_fast_true_refuses():
    class Branchy(nn.Module):  # data-dependent control flow: symbolic tracing fails
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 2, 5)

        def forward(self, x):
            h = self.conv(x)
            return h.amax(dim=(1, 2))[:, None] if bool(h.sum() > 0) else h.mean(dim=(1, 2))[:, None]

    model = _frozen(Branchy())
    x = random_one_hot(1, 40)
    with pytest.raises(InputError, match="no fast ISM path"):
        ism_deltas(model, x, fast=True)
    auto, _ = ism_deltas(model, x, fast="auto")
    naive, _ = ism_deltas(model, x, fast=False)
    assert torch.equal(auto, naive)


def test_a_fast_path_that_disagrees_falls_back_to_naive(monkeypatch, caplog):
    model = _frozen(UserCNN())
    x = random_one_hot(1, 120, seed=8)
    real = receptive.trace_ism_row

    def wrong(plan, row, positions, bases, select, mutant_batch=256):
        values, reference = real(plan, row, positions, bases, select, mutant_batch)
        return values + 0.01, reference

    monkeypatch.setattr(sys.modules["seqsal.methods.ism"], "trace_ism_row", wrong)  # the module, not ism()
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        auto, _ = ism_deltas(model, x, fast="auto")
    assert "disagrees with naive ISM" in caplog.text
    naive, _ = ism_deltas(model, x, fast=False)
    assert torch.equal(auto, naive)
    with pytest.raises(InputError, match="disagrees with naive ISM"):
        ism_deltas(_frozen(UserCNN()), x, fast=True)


def test_focus_mutates_only_the_region_plus_its_span():
    model = _frozen(UserCNN())
    x = random_one_hot(2, 150, seed=2)
    full, _ = ism_deltas(model, x, fast=False)
    focus = torch.tensor([[20, 31], [100, 150]])
    for span in (0, 3):
        counting = Counting(model)
        part, _ = ism_deltas(counting, x, fast=False, focus=focus, span=span)
        inside = torch.zeros(2, 150, dtype=torch.bool)
        inside[0, 20 - span:31 + span] = True
        inside[1, 100 - span:150] = True
        assert counting.rows == 2 + 3 * int(inside.sum())  # one reference pass per sequence, 3 mutants per base
        torch.testing.assert_close(part, torch.where(inside[:, None], full, torch.zeros_like(full)))
    fast, _ = ism_deltas(model, x, fast=True, focus=(20, 31))
    assert fast[:, :, :20].abs().max() == 0 and fast[:, :, 31:].abs().max() == 0
    torch.testing.assert_close(fast[:, :, 20:31], full[:, :, 20:31], rtol=0, atol=1e-5)
    with pytest.raises(InputError, match="focus"):
        ism(model, x, focus=torch.zeros(3, 2, dtype=torch.long))


@pytest.mark.parametrize("lo, hi", [(30, 60), (10, 40)])
def test_focus_is_mirrored_on_the_reverse_complement(lo, hi):
    """[30, 60) of 90 bp is its own mirror; [10, 40) is not (mut30: an unmirrored focus passed with the first)."""
    model = _frozen(UserCNN())
    x = random_one_hot(1, 90, seed=4)
    whole, _ = hypothetical_attributions(model, x, "ism", rc=True, correct=False, fast=False)
    part, _ = hypothetical_attributions(model, x, "ism", rc=True, correct=False, fast=False,
                                        focus=torch.tensor([[lo, hi]]))
    torch.testing.assert_close(part[:, :, lo:hi], whole[:, :, lo:hi], rtol=0, atol=1e-6)
    assert part[:, :, :lo].abs().max() == 0 and part[:, :, hi:].abs().max() == 0


def test_a_small_region_in_a_long_window_costs_three_mutants_per_base():
    """Issue 18: a 101-bp region in a 10,001-bp model window takes at most 303 mutant evaluations."""
    window = 10_001
    model = Counting(_frozen(nn.Sequential(nn.Conv1d(4, 2, 9, padding=4), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
                                           nn.Flatten(), nn.Linear(2, 1))))
    sequence = "".join("ACGT"[i] for i in torch.randint(0, 4, (20_000,), generator=torch.Generator().manual_seed(0)))
    regions = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [9_000, 12_000], "end": [9_101, 12_101],
                            "strand": ["+", "-"], "name": ["a", "b"]})
    fetch = lambda chrom, start, end: sequence[start:end]  # noqa: E731 - the regions lie inside the sequence
    results = list(iter_region_attributions(model, fetch, regions, method="ism", window=window, batch_size=2,
                                            method_params={"fast": False}))
    assert [r.hypothetical.shape for r in results] == [(4, 101), (4, 101)]
    assert model.rows <= 2 * (303 + 1)  # each window: its reference and 3 mutants of each of the region's bases
    # the same values as ISM of the whole window, on the region's bases
    start = 9_000 - (window - 101) // 2
    x = torch.from_numpy(one_hot_encode(sequence[start:start + window]))[None]
    full, _ = hypothetical_attributions(model.inner, x, "ism", focus=torch.tensor([[4950, 5051]]), fast=False)
    torch.testing.assert_close(torch.from_numpy(results[0].hypothetical), full[0, :, 4950:5051], rtol=0, atol=1e-6)


@pytest.mark.parametrize("window, stride, length, strand", [(200, 100, 600, "+"), (201, 67, 523, "-"),
                                                            (150, 150, 450, "+"), (200, 73, 480, "-")])
def test_centre_stitching_mutates_each_base_in_the_one_window_it_is_taken_from(window, stride, length, strand):
    """long23: with --stitch centre each base was mutated in every window covering it (2x the mutants at the
    default stride), though the track keeps one window's value. Now 3 mutants per base and the same track as
    whole-window ISM stitched by the nearest window centre (the first window on a tie), computed here."""
    model = Counting(_frozen(nn.Sequential(nn.Conv1d(4, 3, 9, padding=4), nn.ReLU(), nn.AdaptiveMaxPool1d(1),
                                           nn.Flatten(), nn.Linear(3, 1))))
    sequence = "".join("ACGT"[i] for i in torch.randint(0, 4, (length,), generator=torch.Generator().manual_seed(1)))
    regions = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [length], "strand": [strand], "name": ["a"]})
    fetch = lambda chrom, start, end: sequence[start:end]  # noqa: E731
    result, = iter_region_attributions(model, fetch, regions, method="ism", window=window, stride=stride,
                                       stitch="centre", correct=False, method_params={"fast": False})
    starts = sorted({*range(0, length - window + 1, stride), length - window})
    assert model.rows == 3 * length + len(starts)  # each window's reference, 3 mutants of each base once
    x = torch.from_numpy(one_hot_encode(sequence))
    if strand == "-":
        x = x.flip(0).flip(1)  # the reverse complement the model sees (rows A, C, G, T)
    tiles, _ = ism(model.inner, torch.stack([x[:, s:s + window] for s in starts]), fast=False)
    track, best = torch.zeros(4, length), torch.full((length,), float("inf"))
    for tile, s in zip(tiles, starts):
        distance = (torch.arange(window) - (window - 1) / 2).abs()
        better = distance < best[s:s + window]
        track[:, s:s + window][:, better] = tile[:, better]
        best[s:s + window] = torch.where(better, distance, best[s:s + window])
    if strand == "-":
        track = track.flip(0).flip(1)
    torch.testing.assert_close(torch.from_numpy(result.hypothetical), track, rtol=0, atol=1e-6)
