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
import seqsal.train as train_module
from seqsal.train import load_splits, prior_interval, term_multiplier, train_model
from seqsal.train_options import TrainOptions, check_options
from seqsal.train_data import read_labels
from seqsal.encode import one_hot_encode
from seqsal.train_priors import fourier_penalty, input_gradients, rc_consistency

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
    return TrainOptions(**{"model_config": TINY, "window": 64, "valid_chroms": ["chrB"], "test_chroms": ["chrC"],
                           "epochs": 3, "batch_size": 16, "patience": 5, "seed": 1, **extra})


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
        if epoch == 3 and batch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(world / "genome.fa", labels, tmp_path / "cut.safetensors", options, quiet=True, on_batch=kill)
    assert not (tmp_path / "cut.safetensors").exists() and (tmp_path / "cut.safetensors.ckpt").exists()
    with pytest.raises(InputError, match=r"this checkpoint has 2 epochs done already; give (--)?epochs >= 2"):
        train_model(world / "genome.fa", labels, tmp_path / "cut.safetensors", _options(**{**options.__dict__,
                    "epochs": 1}), quiet=True, resume=True)  # trainbreak: a report of 1 epoch holding 2
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
    summary = json.loads((tmp_path / "model.train_report.json").read_text())
    assert set(summary["metrics"]) == {"train", "valid", "test"} and "auroc" in summary["metrics"]["test"]
    # fresh24b: the interval the terms ran at was recorded as null, and an early stop nowhere
    assert summary["options"]["prior_every"] == 2 and summary["stopped_early"] is False
    assert "data:image/png;base64," in (tmp_path / "model.train_report.html").read_text()
    regions = tmp_path / "regions.bed"
    regions.write_text("chrC\t20\t84\nchrC\t90\t154\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["attribute", str(world / "genome.fa"), str(regions), "--model", str(model),
                                       "-o", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "run.json").exists()


@pytest.mark.parametrize("extra, message", [
    (["--valid-chroms", "chrZ"], "--valid-chroms names chrZ, on which no labelled region lies"),
    (["--valid-chroms", "chrB", "--test-chroms", "chrC,chrX"], "--test-chroms names chrX, on which no labelled"),
    (["--valid-chroms", "chrB", "--test-chroms", "chrB"], "in both --valid-chroms and --test-chroms"),
    (["--valid-chroms", "chrB", "--task", "classification", "--tasks", "activity"], "labels of 0 or 1"),
    (["--valid-chroms", "chrB", "--saliency-cutout", "0.5", "--random-cutout", "0.5"], "alternatives"),
    (["--valid-chroms", "chrB", "--mask-prior", "missing.bed", "1"], "missing.bed: regions file not found"),
    (["--valid-chroms", "chrB", "--random-cutout", "0.5", "--cutout-span", "12", "5"], "--cutout-span (12, 5)"),
])
def test_cli_bad_inputs_give_one_line_and_exit_2(world, tmp_path, extra, message):
    result = CliRunner().invoke(main, ["train", str(world / "genome.fa"), str(world / "labels.tsv"),
                                       "-o", str(tmp_path / "m.safetensors"), "--window", "64", "--quiet", *extra])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seqsal: error:") and message in lines[0], result.output


def test_chromosome_lists_are_read_without_their_spaces():
    """``--valid-chroms "chr2, chr3"`` names chr3 (it named " chr3", on no region, so chr3 trained: trainbreak)."""
    from seqsal.cli_train import _chroms

    assert _chroms("chr2, chr3 ,") == ["chr2", "chr3"] and _chroms("") == [] and _chroms(None) == []


def test_cli_missing_labels_file(world, tmp_path):
    result = CliRunner().invoke(main, ["train", str(world / "genome.fa"), str(tmp_path / "none.tsv"), "-o",
                                       str(tmp_path / "m.safetensors"), "--valid-chroms", "chrB"])
    assert result.exit_code == 2 and "labels file not found" in result.output


# ---- lazy regularisation of the gradient terms (TrainOptions.prior_every; Karras et al. 2020) ----------------------

def test_prior_interval_and_term_multiplier():
    assert prior_interval(_options()) == 2 and prior_interval(_options(consistency="rc")) == 5
    assert prior_interval(_options(prior_every=1)) == 1
    assert [term_multiplier(step, 3) for step in range(7)] == [3.0, 0, 0, 3.0, 0, 0, 3.0]
    assert all(term_multiplier(step, 1) == 1.0 for step in range(5))
    with pytest.raises(InputError, match="prior_every"):
        check_options(_options(prior_every=0))


def test_the_gradient_terms_run_on_one_step_in_k_with_k_times_the_weight(world, tmp_path, monkeypatch):
    calls: list[float] = []
    real = train_module.train_step

    def spy(*args, **kwargs):
        calls.append(args[-1])
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", spy)
    labels = read_labels(world / "labels.tsv", tasks=["activity"])
    for every, expected in ((1, [1.0] * 9), (None, [2.0, 0, 2.0, 0, 2.0, 0, 2.0, 0, 2.0])):
        calls.clear()
        summary = train_model(world / "genome.fa", labels, tmp_path / f"m{every}.safetensors",
                              _options(fourier_prior=1.0, prior_every=every), quiet=True)
        assert calls == expected
        assert all(h["term_fourier"] > 0 and h["cpu_seconds"] > 0 for h in summary["history"])


def test_cutout_fill_reaches_the_training_step(world, tmp_path, monkeypatch):
    seen: list[np.ndarray] = []
    for name in ("random_cutout", "salient_cutout"):
        real = getattr(train_module, name)

        def spy(*args, _real=real, **kwargs):
            seen.append(_real(*args, **kwargs))
            return seen[-1]

        monkeypatch.setattr(train_module, name, spy)
    labels = read_labels(world / "labels.tsv", tasks=["activity"])
    for extra in ({"random_cutout": 1.0}, {"saliency_cutout": 1.0}):
        seen.clear()
        train_model(world / "genome.fa", labels, tmp_path / f"{next(iter(extra))}.safetensors",
                    _options(epochs=1, cutout_fill="n", cutout_span=(5, 5), **extra), quiet=True, force=True)
        blanks = np.concatenate([(x.sum(axis=1) == 0).sum(axis=1) for x in seen])
        assert len(seen) > 0 and (blanks == 5).all()  # every window: one 5-base stretch of Ns
    with pytest.raises(InputError, match="cutout_fill .x.: choose one of random, n"):
        check_options(_options(cutout_fill="x"))


def _valid_windows(world) -> torch.Tensor:
    labels = read_labels(world / "labels.tsv", tasks=["activity"])
    x = load_splits(str(world / "genome.fa"), labels, _options(), 64)["valid"].x
    return torch.as_tensor(x[:, :, 3:67].astype(np.float32))


def _trained(world, tmp_path, name: str, **extra) -> torch.nn.Module:
    labels = read_labels(world / "labels.tsv", tasks=["activity"])
    options = _options(epochs=6, patience=6, batch_size=4, **extra)
    train_model(world / "genome.fa", labels, tmp_path / f"{name}.safetensors", options, quiet=True)
    return seqsal.load_model(tmp_path / f"{name}.safetensors").module.eval()


def test_lazy_terms_still_do_what_they_claim(world, tmp_path):
    """Each gradient term on its default lazy schedule (one step in 2, or 5 for consistency) moves its own measure of
    the trained model's maps the right way against plain training (same seed and batches); on these data, every step
    (``prior_every=1``) gave fourier 0.631 against plain 0.647 (the prior on every window, before it followed Tseng
    et al.'s positives). RC: the term and its measure are on maps centred per position over the batch; centred, 0.89
    against plain 1.02. (Uncentred, 0.38 against 0.90, most of it a sequence-independent, mirror-symmetric
    positional profile that the centred distance no longer rewards: the same model scores 0.66 centred.) The mask
    prior's test is below, on a world with a shortcut to unlearn."""
    every = None
    x = _valid_windows(world)

    def measures(model: torch.nn.Module) -> dict[str, float]:
        _, gradients = input_gradients(model, x, create_graph=False)
        return {"fourier": float(fourier_penalty(gradients * x)),
                "rc": float(rc_consistency(model, x, gradients * x).detach())}

    plain = measures(_trained(world, tmp_path, "plain"))
    fourier = measures(_trained(world, tmp_path, "fourier", fourier_prior=20.0, prior_every=every))
    rc = measures(_trained(world, tmp_path, "rc", consistency="rc", consistency_weight=20.0, prior_every=every))
    assert fourier["fourier"] < 0.99 * plain["fourier"]  # 0.627 against 0.647
    assert rc["rc"] < 0.93 * plain["rc"]  # 0.89 against 1.02


ARTEFACT = "GATCGGAAGAGC"  # an adapter-like 12-mer, at bases 48-60 of a 64-bp window (4-16 when reverse complemented,
# clear of the motif at 20-28 or 36-44, so that no position is both an artefact's and a motif's)


@pytest.fixture(scope="module")
def shortcut_world(tmp_path_factory):
    """The world above, but in half of the active training windows (chrA) the motif is replaced by an artefact at
    another offset, so that fitting them needs the artefact; valid (chrB) and test (chrC) windows are clean."""
    folder = tmp_path_factory.mktemp("shortcut")
    rng = np.random.default_rng(4)
    rows, fasta, bed, carriers = [], [], [], []
    for chrom in ("chrA", "chrB", "chrC"):
        sequence = np.array(list("ACGT"))[rng.integers(0, 4, 80 * 70 + 40)]
        for k in range(80):
            start = 20 + k * 70
            active = k % 2 == 0
            if active and chrom == "chrA" and k % 4 == 0:
                carriers.append((start, "".join(sequence[start + 48:start + 60])))
                sequence[start + 48:start + 60] = list(ARTEFACT)
                bed.append(f"chrA\t{start + 48}\t{start + 60}\n")
            elif active:
                sequence[start + 20:start + 20 + len(MOTIF)] = list(MOTIF)
            rows.append(f"{chrom}\t{start}\t{start + 64}\t{float(active) + rng.normal(0, 0.05):.4f}")
        fasta.append(f">{chrom}\n" + "".join(sequence) + "\n")
        if chrom == "chrA":
            windows = np.stack([one_hot_encode("".join(sequence[s:s + 64])) for s, _ in carriers])
    (folder / "genome.fa").write_text("".join(fasta))
    (folder / "labels.tsv").write_text("chrom\tstart\tend\tactivity\n" + "\n".join(rows) + "\n")
    (folder / "artefact.bed").write_text("".join(bed))
    clean = windows.copy()
    for i, (_, original) in enumerate(carriers):
        clean[i, :, 48:60] = one_hot_encode(original)
    return folder, torch.as_tensor(windows.astype(np.float32)), torch.as_tensor(clean.astype(np.float32))


def test_mask_prior_removes_the_reliance_on_a_planted_artefact(shortcut_world, tmp_path):
    """Reliance = mean prediction drop when the artefact is replaced by the original bases in the training windows
    that carry it (their only signal). The plain model relies on it; the mask prior over the artefact's positions
    removes it and keeps the clean test r. Seeds 1, 2, 3 of this setting: reliance plain 0.26, 0.42, 0.42, with the
    prior (weight 3) 0.015, 0.018, 0.023; clean test r plain 0.68, 0.65, 0.76, with the prior 0.63, 0.63, 0.75.
    (Ross et al.'s squared input gradient, the term this one replaced: reliance 0.029, 0.063, 0.076 at r 0.59,
    0.71, 0.74 with weight 30, and 0.002-0.014 only at weight 300, where r falls to 0.25-0.37.) Without the prior
    (no mask: weight 0 is refused) the first bound fails by construction."""
    folder, carriers, clean = shortcut_world
    labels = read_labels(folder / "labels.tsv")

    def fit(name: str, **extra) -> tuple[float, float]:
        options = _options(epochs=15, patience=15, batch_size=8, learning_rate=5e-3, **extra)
        summary = train_model(folder / "genome.fa", labels, tmp_path / f"{name}.safetensors", options, quiet=True)
        model = seqsal.load_model(tmp_path / f"{name}.safetensors").module.eval()
        with torch.no_grad():
            reliance = float((model(carriers) - model(clean)).mean())
        return reliance, summary["metrics"]["test"]["pearson"]["activity"]

    plain, plain_r = fit("plain")
    masked, masked_r = fit("mask", mask_prior=str(folder / "artefact.bed"), mask_weight=3.0)
    assert plain > 0.2, plain
    assert masked < 0.25 * plain, (masked, plain)
    assert masked_r > plain_r - 0.15, (masked_r, plain_r)


def test_cli_cutout_span_fill_and_consistency_shift_reach_the_options(tmp_path, monkeypatch):
    """The cutouts' length range and fill were API-only (the span's own error message named a flag that did not
    exist)."""
    import seqsal.train as train_module
    import seqsal.train_data as train_data

    captured: dict = {}
    monkeypatch.setattr(train_module, "train_model",
                        lambda genome, table, output, options, **kwargs: captured.update(options=options)
                        or {"best_epoch": 1, "best_score": 0.0})
    monkeypatch.setattr(train_data, "read_labels", lambda *a, **k: None)
    args = ["train", "g.fa", "l.tsv", "-o", str(tmp_path / "m.safetensors"), "--valid-chroms", "chrB", "--quiet",
            "--saliency-cutout", "0.5"]
    result = CliRunner().invoke(main, [*args, "--cutout-span", "4", "8", "--cutout-fill", "n", "--consistency",
                                       "shift", "1", "--consistency-shift", "3"])
    assert result.exit_code == 0, result.output
    assert captured["options"].cutout_span == (4, 8) and captured["options"].cutout_fill == "n"
    assert captured["options"].consistency_shift == 3
    assert CliRunner().invoke(main, args).exit_code == 0
    assert captured["options"].cutout_span == (10, 30) and captured["options"].cutout_fill == "random"



@pytest.mark.parametrize("config, architecture, message", [
    ("[1, 2]", "basset", "holds a list, not a mapping of architecture options"),
    ("42", "basset", "holds a int, not a mapping"),
    ('{"pool_sizes": [0, 4, 4]}', "basset", "pool_sizes must be positive whole numbers, got [0, 4, 4]"),
    ('{"channels": [0, 4, 4]}', "basset", "channels must be positive whole numbers"),
    ('{"hidden": -1}', "basset", "hidden must be a positive whole number, got -1"),
    ('{"dropout": 2}', "basset", "dropout must be in [0, 1), got 2"),
    ('{"trimming": -3}', "bpnet", "trimming must be a whole number >= 0, got -3"),
    ('{"trimming": 32}', "bpnet", "trimming 32 leaves no profile of a 64-bp window"),
    ('{"input_length": 400}', "basset", "--model-config input_length 400 differs from --window 64; give the window"),
    ('{"n_tasks": 5}', "basset", "--model-config n_tasks 5 differs from the labels' 2"),  # fresh31: replaced unsaid
    ('{"task_names": ["a", "b"]}', "bpnet", "task_names ['a', 'b'] differs from the labels'"),
])
def test_a_bad_model_config_is_one_line_not_a_traceback(world, tmp_path, config, architecture, message):
    """A config that is no mapping, or sizes of 0 or below, failed deep in torch (TypeError, ZeroDivisionError,
    RuntimeError) or, for a BPNet trimmed to nothing, as "training diverged" (trainbreak)."""
    path = tmp_path / "config.json"
    path.write_text(config)
    result = CliRunner().invoke(main, ["train", str(world / "genome.fa"), str(world / "labels.tsv"), "-o",
                                       str(tmp_path / "m.safetensors"), "--window", "64", "--quiet",
                                       "--valid-chroms", "chrB", "--architecture", architecture,
                                       "--model-config", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("seqsal: error:") and message in lines[0], result.output


@pytest.mark.parametrize("content, message", [
    (b"", "cannot read this checkpoint (EOFError)"),
    (b"\x00garbage" * 10, "cannot read this checkpoint ("),
    (None, "not a seqsal checkpoint (it holds a list)"),
])
def test_a_damaged_checkpoint_is_refused_in_one_line(world, tmp_path, content, message):
    """Truncated, empty or foreign checkpoints ended in tracebacks (or click's bare "aborted") after loading."""
    model = tmp_path / "m.safetensors"
    checkpoint = tmp_path / "m.safetensors.ckpt"
    if content is None:
        torch.save([1, 2], checkpoint)
    else:
        checkpoint.write_bytes(content)
    result = CliRunner().invoke(main, ["train", str(world / "genome.fa"), str(world / "labels.tsv"), "-o", str(model),
                                       "--window", "64", "--quiet", "--valid-chroms", "chrB", "--resume"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "--force" in lines[0], result.output


def test_an_empty_output_path_or_a_huge_coordinate_is_refused(world, tmp_path, monkeypatch):
    """``-o ''`` trained, then failed on the rename (leaving ./.ckpt); a TSV coordinate beyond 64 bits overflowed."""
    monkeypatch.chdir(tmp_path)
    for output, message in (("", "'' is empty: give the model file's path"), ("sub/", "'sub/' is a folder")):
        result = CliRunner().invoke(main, ["train", str(world / "genome.fa"), str(world / "labels.tsv"), "-o",
                                           output, "--window", "64", "--quiet", "--valid-chroms", "chrB"])
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / ".ckpt").exists()
    labels = tmp_path / "big.tsv"
    labels.write_text("chrom\tstart\tend\tv\nchrA\t1\t99999999999999999999999\t1\n")
    with pytest.raises(InputError, match=r"big.tsv:2: start/end .* within 64 bits"):
        read_labels(labels)
