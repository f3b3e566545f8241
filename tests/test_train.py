"""seqsal train: labels, resume after an interrupted epoch, the output through `seqsal attribute`, bad inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import seqsal
from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.train import TrainOptions, train_model
from seqsal.train_data import read_labels

MOTIF = "TGACTCAT"
TINY = {"channels": [8, 8], "kernel_sizes": [5, 3], "pool_sizes": [2, 2], "hidden": 8, "dropout": 0.1}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Three 3-kb chromosomes with a motif planted in half of 40 windows per chromosome; activity = motif count."""
    folder = tmp_path_factory.mktemp("train")
    rng = np.random.default_rng(0)
    rows, fasta = [], []
    for chrom in ("chrA", "chrB", "chrC"):
        sequence = np.array(list("ACGT"))[rng.integers(0, 4, 3000)]
        for k in range(40):
            start = 20 + k * 70
            active = k % 2 == 0
            if active:
                sequence[start + 20:start + 20 + len(MOTIF)] = list(MOTIF)
            rows.append(f"{chrom}\t{start}\t{start + 64}\t{float(active) + rng.normal(0, 0.05):.4f}\t{int(active)}")
        fasta.append(f">{chrom}\n" + "".join(sequence) + "\n")
    (folder / "genome.fa").write_text("".join(fasta))
    (folder / "labels.tsv").write_text("chrom\tstart\tend\tactivity\tbound\n" + "\n".join(rows) + "\n")
    return folder


def _options(**extra) -> TrainOptions:
    return TrainOptions(model_config=TINY, window=64, valid_chroms=["chrB"], test_chroms=["chrC"], epochs=3,
                        batch_size=16, patience=5, seed=1, **extra)


def test_labels_tsv_bed_and_errors(world, tmp_path):
    labels = read_labels(world / "labels.tsv")
    assert labels.tasks == ["activity", "bound"] and labels.values.shape == (120, 2)
    assert read_labels(world / "labels.tsv", tasks=["bound"]).values[:4, 0].tolist() == [1, 0, 1, 0]
    bed = tmp_path / "peaks.narrowPeak"
    bed.write_text("chrA\t10\t74\tp1\t0\t.\t3.5\t-1\t-1\t20\nchrA\t100\t164\tp2\t0\t.\tx\t-1\t-1\t20\n")
    with pytest.raises(InputError, match=r"peaks.narrowPeak:2: column 7 is 'x'"):
        read_labels(bed)
    with pytest.raises(InputError, match="not in the header"):
        read_labels(world / "labels.tsv", tasks=["nope"])


def test_resume_after_an_interrupted_epoch_gives_the_same_weights(world, tmp_path):
    options = _options(fourier_prior=0.5, consistency="rc", consistency_weight=0.5)
    labels = read_labels(world / "labels.tsv", tasks=["activity"])
    full = train_model(world / "genome.fa", labels, tmp_path / "full.safetensors", options, quiet=True)

    def kill(epoch: int, batch: int) -> None:
        if epoch == 2 and batch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(world / "genome.fa", labels, tmp_path / "cut.safetensors", options, quiet=True, on_batch=kill)
    assert not (tmp_path / "cut.safetensors").exists() and (tmp_path / "cut.safetensors.ckpt").exists()
    resumed = train_model(world / "genome.fa", labels, tmp_path / "cut.safetensors", options, quiet=True, resume=True)
    a = seqsal.load_model(tmp_path / "full.safetensors").module.state_dict()
    b = seqsal.load_model(tmp_path / "cut.safetensors").module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [h["train_loss"] for h in full["history"]] == [h["train_loss"] for h in resumed["history"]]
    assert "term_fourier" in full["history"][0] and "term_consistency" in full["history"][0]


def test_cli_train_output_runs_through_attribute_and_the_report_is_written(world, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    model = tmp_path / "model.safetensors"
    result = CliRunner().invoke(main, [
        "train", str(world / "genome.fa"), str(world / "labels.tsv"), "-o", str(model), "--model-config", str(config),
        "--window", "64", "--valid-chroms", "chrB", "--test-chroms", "chrC", "--tasks", "bound",
        "--task", "classification", "--epochs", "2", "--batch-size", "16", "--saliency-cutout", "0.5", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "train_report.json").read_text())
    assert set(summary["metrics"]) == {"train", "valid", "test"} and "auroc" in summary["metrics"]["test"]
    assert "data:image/png;base64," in (tmp_path / "train_report.html").read_text()
    regions = tmp_path / "regions.bed"
    regions.write_text("chrC\t20\t84\nchrC\t90\t154\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["attribute", str(world / "genome.fa"), str(regions), "--model", str(model),
                                       "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "run.json").exists()


@pytest.mark.parametrize("extra, message", [
    (["--valid-chroms", "chrZ"], "no valid regions"),
    (["--valid-chroms", "chrB", "--test-chroms", "chrB"], "in both --valid-chroms and --test-chroms"),
    (["--valid-chroms", "chrB", "--task", "classification", "--tasks", "activity"], "labels of 0 or 1"),
    (["--valid-chroms", "chrB", "--saliency-cutout", "0.5", "--random-cutout", "0.5"], "alternatives"),
    (["--valid-chroms", "chrB", "--mask-prior", "missing.bed", "1"], "missing.bed: regions file not found"),
])
def test_cli_bad_inputs_give_one_line_and_exit_2(world, tmp_path, extra, message):
    result = CliRunner().invoke(main, ["train", str(world / "genome.fa"), str(world / "labels.tsv"),
                                       "-o", str(tmp_path / "m.safetensors"), "--window", "64", "--quiet", *extra])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seqsal: error:") and message in lines[0], result.output


def test_cli_missing_labels_file(world, tmp_path):
    result = CliRunner().invoke(main, ["train", str(world / "genome.fa"), str(tmp_path / "none.tsv"), "-o",
                                       str(tmp_path / "m.safetensors"), "--valid-chroms", "chrB"])
    assert result.exit_code == 2 and "labels file not found" in result.output
