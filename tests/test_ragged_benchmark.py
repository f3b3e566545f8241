"""The memory part of ``benchmarks/ragged.py`` (issue 18): what it reports besides peak RSS.

Peak RSS of the peak caller grows with the shuffled null by design (its sorted statistics are the null
distribution), so the benchmark reports the bytes of null statistics held, from ``run.json``, and the ratios
without their growth. That count must be what the caller holds: the per-width nulls as float32, the final nulls
as float64, nothing for a sign that tests one width.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import seqsal.peaks.calling as calling
from seqsal.peaks import call_peaks_from_run
from seqsal.pipeline import run_attribute
from seqsal.simulate import random_sequence

from helpers import benchmark_module


@pytest.fixture(scope="module")
def ragged():
    with benchmark_module("ragged") as module:
        yield module


def _run(tmp_path, model) -> Path:
    """60 regions of 500 bp of a random genome, attributed with the tiny 200-bp model (shuffled null, peaks)."""
    rng = np.random.default_rng(5)
    sequence = random_sequence(60 * 550 + 1000, rng).tobytes().decode()
    genome = tmp_path / "genome.fa"
    genome.write_text(">chr1\n" + "".join(sequence[i:i + 80] + "\n" for i in range(0, len(sequence), 80)))
    bed = tmp_path / "regions.bed"
    bed.write_text("".join(f"chr1\t{500 + 550 * i}\t{1000 + 550 * i}\tr{i}\n" for i in range(60)))
    out = tmp_path / "run"
    run_attribute(str(genome), str(bed), str(model), str(out), progress=False)
    return out


def test_null_statistics_the_benchmark_counts_are_those_the_caller_holds(tmp_path, tiny_model, ragged, monkeypatch):
    """``null_held`` from ``run.json`` equals the bytes of the arrays :func:`null_statistics` returns to the caller
    on the same folder (per-width float32 and final float64), for a run whose null is the shuffled one."""
    out = _run(tmp_path, tiny_model[0])
    peaks = json.loads((out / "run.json").read_text())["peaks"]
    assert peaks["null"] == "shuffle"
    returned = []
    original = calling.null_statistics

    def recording(*args, **kwargs):
        scores, totals = original(*args, **kwargs)
        returned.append(sum(values.nbytes for values in scores.values()))
        return scores, totals

    monkeypatch.setattr(calling, "null_statistics", recording)
    call_peaks_from_run(out, write=False)
    assert len(returned) == 2  # the per-width nulls, then the final ones
    regions, mib = ragged.null_held(peaks)
    assert regions == peaks["null_sample"]["n_regions"] > 0
    assert mib * 2 ** 20 == sum(returned) > 0


def test_a_sign_testing_one_width_and_the_laplace_null_hold_no_final_null(ragged):
    """A sign with one width has no final null (its p-values are the width's: counted once, at 4 B); the Laplace
    null holds no values."""
    model = {"kind": "empirical", "n": 1000}
    peaks = {"null": "shuffle", "null_sample": {"n_regions": 7},
             "null_model_by_width": {"6": {"+": model, "-": model}, "10": {"+": model, "-": {"kind": "none", "n": 3}}},
             "test_widths_used": {"+": [6, 10], "-": [6]},
             "null_model": {"+": {"kind": "empirical", "n": 500}, "-": model}}
    assert ragged.null_held(peaks) == (7, (4 * 3000 + 8 * 500) / 2 ** 20)
    assert ragged.null_held({**peaks, "null": "laplace"}) == (0, 0.0)


def test_repeated_runs_are_summarised_by_their_mean_and_range(ragged):
    assert ragged.summary([(80.0, 1.0), (84.0, 3.0)]) == (82.0, "82.0 (80.0-84.0)", 2.0)
    assert ragged.summary([(81.5, 2.0)]) == (81.5, "81.5", 2.0)
