"""The audit's shuffle response read from the run's own shuffled null (issue 17: the model check was most of the
audit's time; the null's shuffled copies had already been run through the model and their predictions thrown
away)."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from torch import nn

from seqsal.audit_composition import check_shuffle_response, null_shuffle_predictions
from seqsal.audit_inputs import AuditOptions, read_run
from seqsal.io import npz_members, write_npz
from helpers import attribute_scripted


class GCContent(nn.Module):
    """Output = GC share of the window x 10: a pure composition model, which dinucleotide shuffles cannot move."""

    def forward(self, x):
        return (x[:, 1] + x[:, 2]).mean(dim=1, keepdim=True) * 10.0


class FirstBases(nn.Module):
    """Output = A minus T among the window's first 20 bases: a positional model whose output no composition (A and T
    are equally frequent here at every GC) predicts, so shuffles scramble it."""

    def forward(self, x):
        return (x[:, 0, :20] - x[:, 3, :20]).sum(dim=1, keepdim=True)


def _run(tmp_path: Path, model: nn.Module, name: str) -> Path:
    rng = np.random.default_rng(5)
    chunks = []
    for gc in np.linspace(0.2, 0.8, 30):  # 30 stretches of 300 bp over a range of GC content
        chunks.append("".join(rng.choice(list("ACGT"), 300, p=[(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])))
    return attribute_scripted(tmp_path, model, name, chunks,
                              [f"chr1\t{i * 300 + 50}\t{i * 300 + 250}\tr{i}\t0\t{'+-'[i % 2]}" for i in range(30)])


def test_the_null_stores_each_shuffled_copys_prediction_and_the_audit_reads_it(tmp_path):
    out = _run(tmp_path, GCContent(), "gc")
    with np.load(out / "null.npz") as null:
        rows, predictions = null["region_index"], null["prediction"]
    regions = pd.read_csv(out / "regions.tsv", sep="\t")
    assert len(rows) >= 10
    # a composition model: a dinucleotide shuffle keeps the prediction exactly, so each copy's stored prediction is
    # its own region's (a copy stored under another region's row, or not stored, breaks this)
    assert np.allclose(predictions, regions["prediction"].to_numpy()[rows], atol=1e-4)
    run = read_run(out)
    original, shuffled, copies = null_shuffle_predictions(run)
    assert copies >= 1 and np.allclose(original, shuffled, atol=1e-4)
    result = check_shuffle_response(run, AuditOptions(model=False))  # no model needed
    assert result["verdict"] == "shortcut likely" and result["value"] == pytest.approx(1.0, abs=1e-3)
    assert "the run's shuffled null" in result["evidence"]
    # rows that are a piece of their region (a long region's, seqsal.peaks.nulls.null_pieces) predict another
    # stretch than regions.tsv's: left out of the response, not averaged in as the region's shuffles
    members = npz_members(out / "null.npz")
    piece = rows < 5
    cut = ["\t".join([chrom, str(int(start) + 50), end, name]) for chrom, start, end, name in  # less 50 bp
           (key.split("\t") for key in members["region_key"].tolist())]
    members["region_key"] = np.where(piece, cut, members["region_key"])
    members["prediction"] = np.where(piece, members["prediction"] + 100, members["prediction"]).astype(np.float32)
    write_npz(out / "null.npz", members)
    original, shuffled, _ = null_shuffle_predictions(read_run(out))
    assert len(original) == len(np.unique(rows)) - 5 and np.allclose(original, shuffled, atol=1e-4)


def test_a_model_that_shuffles_move_keeps_no_slope_from_the_null(tmp_path):
    out = _run(tmp_path, FirstBases(), "first")
    result = check_shuffle_response(read_run(out), AuditOptions(model=False))
    assert result["verdict"] == "ok" and result["value"] < 0.3


def test_a_null_without_predictions_falls_back_to_the_model(tmp_path):
    out = _run(tmp_path, GCContent(), "gc")
    old = tmp_path / "old"
    shutil.copytree(out, old)
    with zipfile.ZipFile(out / "null.npz") as source, zipfile.ZipFile(old / "null.npz", "w") as target:
        for item in source.infolist():
            if item.filename != "prediction.npy":  # a folder from before the null stored its predictions
                target.writestr(item, source.read(item.filename))
    run = read_run(old)
    assert null_shuffle_predictions(run) is None
    assert check_shuffle_response(run, AuditOptions(model=False))["verdict"] == "n/a"
    result = check_shuffle_response(run, AuditOptions())
    assert "the model run on a sample" in result["evidence"] and result["verdict"] == "shortcut likely"
