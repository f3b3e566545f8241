import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import seqsal
from seqsal.attribution import Target
from seqsal.methods import METHODS, make_baselines
from seqsal.evaluate import (
    FRACTIONS,
    auprc,
    auroc,
    background_of,
    curve_auc,
    deletion_insertion,
    effective_receptive_field,
    sanity_check,
    site_mask,
    projected_scores,
    spearman_rows,
    stability,
)
from helpers import frozen, random_one_hot
from tests.run_arrays import dense_arrays


def test_auroc_auprc_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([1, 0, 1, 0, 0])
    # pairs (pos > neg): 0.9 beats 3 negatives, 0.7 beats 2 -> 5 of 6
    assert auroc(scores, labels) == pytest.approx(5 / 6)
    # precision at the positives: 1/1 and 2/3 -> AP = (1 + 2/3) / 2
    assert auprc(scores, labels) == pytest.approx((1 + 2 / 3) / 2)
    assert auroc(np.ones(4), np.array([1, 0, 1, 0])) == pytest.approx(0.5)
    assert np.isnan(auroc(scores, np.zeros(5)))


def test_site_mask_half_open():
    windows = pd.DataFrame({"chrom": ["c1", "c1", "c2"], "start": [100, 0, 0]})
    sites = pd.DataFrame({"chrom": ["c1", "c1"], "start": [95, 130], "end": [102, 131]})
    mask = site_mask(windows, sites, 50)
    assert mask[0].nonzero()[0].tolist() == [0, 1, 30]
    assert not mask[1].any() and not mask[2].any()


def test_a_uniform_background_keeps_n_bases_as_the_baselines_do():
    x = random_one_hot(2, 30, n_run=(10, 14)).numpy()
    background = background_of(x, "uniform")
    assert background.shape == x.shape and background.dtype == x.dtype
    assert (background[:, :, 10:14] == 0).all() and (background[:, :, :10] == 0.25).all()
    assert np.array_equal(background, make_baselines(torch.from_numpy(x), "uniform")[:, 0].numpy())


def test_deletion_insertion_on_a_linear_model():
    """For a linear model, deleting bases in the order of their true contribution is the fastest possible drop."""
    torch.manual_seed(0)
    model = frozen(nn.Sequential(nn.Flatten(), nn.Linear(4 * 40, 1)))
    x = random_one_hot(6, 40).numpy()
    background = background_of(x, "uniform")
    weight = model[1].weight.reshape(4, 40).numpy()
    exact = ((x - background) * weight).sum(axis=1)  # each base's contribution relative to the background
    deletion, insertion = deletion_insertion(model, x, exact, Target(), background)
    random_deletion, random_insertion = deletion_insertion(model, x, np.random.default_rng(1).random((6, 40)),
                                                           Target(), background)
    with torch.no_grad():
        full, empty = model(torch.from_numpy(x))[:, 0].numpy(), model(torch.from_numpy(background))[:, 0].numpy()
    assert np.allclose(deletion[:, 0], full, atol=1e-5) and np.allclose(deletion[:, -1], empty, atol=1e-5)
    assert np.allclose(insertion[:, 0], empty, atol=1e-5) and np.allclose(insertion[:, -1], full, atol=1e-5)
    assert (curve_auc(deletion) <= curve_auc(random_deletion) + 1e-6).all()
    assert (curve_auc(insertion) >= curve_auc(random_insertion) - 1e-6).all()
    assert curve_auc(np.ones((1, len(FRACTIONS))))[0] == pytest.approx(1.0)


def test_sanity_check_flags_a_model_independent_map(monkeypatch):
    torch.manual_seed(1)
    model = frozen(seqsal.BassetCNN(input_length=64, channels=(8, 8), kernel_sizes=(5, 3), pool_sizes=(2, 2),
                                    hidden=8))
    x = random_one_hot(4, 64, seed=2)

    def input_only(model, x, target):  # ignores the model: its map cannot change under re-randomisation
        return x + torch.arange(x.shape[-1], dtype=x.dtype) / x.shape[-1], torch.zeros(x.shape[0])

    monkeypatch.setitem(METHODS, "input_only", input_only)
    from seqsal.evaluate import projected_scores

    for method, unchanged in (("input_only", True), ("grad_x_input", False)):
        reference = projected_scores(model, x, method, Target(), correct=False)
        table = sanity_check(model, x, method, Target(), reference, correct=False)
        assert len(table) == 4 and table["layer"].iloc[0] == "head.4"
        assert (table["spearman"].iloc[-1] > 0.99) == unchanged


def test_spearman_rows():
    a = np.array([[1.0, 2, 3, 4], [1, 2, 3, 4]])
    b = np.array([[10.0, 20, 30, 40], [4, 3, 2, 1]])
    assert np.allclose(spearman_rows(a, b), [1, -1])
    # constant rows (all-zero maps) have no ranking: two of them are the same map; one against a varying map is 0
    zero, ramp = np.zeros((1, 4)), np.array([[0.0, 1, 2, 3]])
    assert np.allclose(spearman_rows(np.vstack([zero, zero, ramp]), np.vstack([zero, ramp, zero])), [1, 0, 0])


def test_stability_of_a_model_whose_maps_stay_all_zero_is_one():
    """fresh25: a max-pooled / ReLU-gated model gives all-zero maps on many windows; substituting bases it ignores
    changes none of them, and the stability must say so (it was the share of windows with a varying map)."""
    class Gated(nn.Module):
        def forward(self, x):
            return torch.relu(x[:, 0, :].sum(dim=1) - 1e6)[:, None]  # never active: every map is all zero

    x = random_one_hot(6, 40)
    reference = projected_scores(frozen(Gated()), x, "grad_x_input", Target())
    assert not reference.any()
    assert stability(frozen(Gated()), x, "grad_x_input", Target(), reference)["stability"] == 1.0


def test_effective_receptive_field_of_known_convolutions():
    model = frozen(nn.Sequential(nn.Conv1d(4, 3, 5, padding=2), nn.ReLU(), nn.Conv1d(3, 2, 7, padding=3)))
    with torch.no_grad():
        for conv in (model[0], model[2]):
            conv.weight.fill_(0.1)
            conv.bias.fill_(1.0)
    table, profiles = effective_receptive_field(model, random_one_hot(3, 41))
    assert table["support"].tolist() == [5, 11]
    # first layer: uniform over 5 bases -> sigma = sqrt(2); second: triangle-shaped over 11 bases
    assert table["sigma"].iloc[0] == pytest.approx(np.sqrt(2.0), rel=1e-6)
    assert table["sigma"].iloc[1] > table["sigma"].iloc[0]
    assert np.allclose(profiles.sum(axis=1), 1)


def test_evaluate_command_on_a_small_run(small_genome, tiny_model, tmp_path):
    from click.testing import CliRunner

    from seqsal.cli import main
    from tests.conftest import write_bed

    genome, _ = small_genome
    model_path, _ = tiny_model
    bed = write_bed(tmp_path / "regions.bed", [f"chr1\t{s}\t{s + 200}\tr{s}\t0\t+" for s in range(200, 2600, 400)])
    truth = write_bed(tmp_path / "truth.bed", ["chr1\t300\t320", "chr1\t1100\t1130"])
    out = tmp_path / "out"
    args = ["attribute", str(genome), str(bed), "-m", str(model_path), "-o", str(out), "-q", "--device", "cpu"]
    if "--no-peaks" in CliRunner().invoke(main, ["attribute", "--help"]).output:
        args.append("--no-peaks")
    assert CliRunner().invoke(main, args).exit_code == 0
    result = CliRunner().invoke(main, ["evaluate", str(out), "--methods", "grad_x_input,deepshap,ism",
                                       "--references", "3", "--truth", str(truth), "-q", "--max-regions", "5"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "evaluation.tsv", sep="\t")
    assert table["method"].tolist() == ["random", "grad_x_input", "deepshap", "ism"]
    assert table["n_windows"].eq(5).all() and table["auroc"].between(0, 1).all()
    for name in ("evaluation_curves.tsv", "evaluation_sanity.tsv", "evaluation_erf.tsv", "evaluation/deletion_insertion.png",
                 "evaluation/sanity.png", "evaluation/erf.png"):
        assert (out / name).stat().st_size > 0
    bad = CliRunner().invoke(main, ["evaluate", str(out), "--methods", "nope", "-q"])
    assert bad.exit_code == 2 and "unknown method" in bad.output
    # the report gains an Evaluation section: the methods table, the ERF table and the three plots embedded
    import base64
    import re

    from seqsal.report import build_report

    text = build_report(out, top=2)
    section = text[text.index("<h2>Evaluation</h2>"):text.index("<h2>Files</h2>")]
    assert "<h3>Methods</h3>" in section and "<h3>Effective receptive field</h3>" in section
    assert all(f"<td>{method}</td>" in section for method in ("random", "grad_x_input", "deepshap", "ism"))
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', section)
    assert len(images) == 3
    assert base64.b64decode(images[0]) == (out / "evaluation" / "deletion_insertion.png").read_bytes()
    assert 'href="evaluation.tsv"' in text and "http" not in section
    for name in ("evaluation.tsv", "evaluation_erf.tsv"):
        (out / name).unlink()
    for plot in (out / "evaluation").glob("*.png"):
        plot.unlink()
    assert "<h2>Evaluation</h2>" not in build_report(out, top=2)


def test_evaluate_scores_the_windows_and_parameters_the_run_attributed(small_genome, tiny_model, tmp_path):
    """Issue 14: evaluate builds each region's windows as the engine does (context, tiling, minus strand) and runs
    the run's method with the run's parameters and --rc, so it scores what the run attributed."""
    from click.testing import CliRunner

    from seqsal.cli import main
    from seqsal.engine import iter_region_attributions
    from seqsal.evaluate import projected_scores
    from seqsal.run_windows import run_inputs
    from seqsal.evaluate_inputs import method_parameters
    from seqsal.genome import Genome
    from seqsal.regions import prepare_regions
    from tests.conftest import write_bed

    genome, _ = small_genome
    model_path, model = tiny_model
    bed = write_bed(tmp_path / "regions.bed", ["chr1\t300\t500\tplus\t0\t+", "chr1\t1400\t1550\tshort\t0\t-",
                                              "chr1\t2000\t2350\tlong\t0\t-"])
    out = tmp_path / "out"
    args = ["attribute", str(genome), str(bed), "-m", str(model_path), "-o", str(out), "-q", "--device", "cpu",
            "--method", "deepshap", "--references", "3", "--rc", "--seed", "4", "--stride", "100", "--no-peaks"]
    assert CliRunner().invoke(main, args).exit_code == 0
    record, module, x, windows, target, seed = run_inputs(out, None, None)
    assert seed == 4 and windows["name"].tolist() == ["plus", "short", "long", "long", "long"]
    assert windows["strand"].tolist() == ["+", "-", "-", "-", "-"] and (windows["end"] - windows["start"]).eq(200).all()

    seen = []  # the windows the engine feeds the model (batches padded with zero rows; not the gradient check's
    # probe, which passes one window at a time)

    class Recorder(torch.nn.Module):
        def forward(self, batch):
            if batch.shape[0] > 1:
                seen.extend(row for row in batch.detach().clone() if row.abs().sum() > 0)
            return model(batch)

    table = prepare_regions(str(bed), Genome(str(genome)).chrom_sizes, None)
    list(iter_region_attributions(Recorder(), Genome(str(genome)).fetch, table, "grad_x_input", window=200,
                                  stride=100, device="cpu"))
    assert len(seen) == 5 and all(torch.equal(a, b) for a, b in zip(seen, x))

    params = {"correct": True, "rc": True, **method_parameters("deepshap", record, {}, seed)}
    assert params["references"] == 3 and params["seed"] == 4
    scores = projected_scores(module, x[:1], "deepshap", target, **params)
    arrays = dense_arrays(out / "attributions.npz")
    attributed = (arrays["hypothetical"][0] * arrays["one_hot"][0]).sum(axis=0)[:200]  # region 'plus': one window
    np.testing.assert_allclose(scores[0], attributed, rtol=1e-5, atol=1e-6)
    other = projected_scores(module, x[:1], "deepshap", target, correct=True, rc=False, references=3, seed=0)
    assert np.abs(other[0] - attributed).max() > 1e-4  # without the run's --rc and seed: other scores


def test_site_mask_reads_minus_strand_windows_reversed():
    windows = pd.DataFrame({"chrom": ["c1", "c1"], "start": [100, 100], "strand": ["+", "-"]})
    sites = pd.DataFrame({"chrom": ["c1"], "start": [101], "end": [103]})
    mask = site_mask(windows, sites, 10)
    assert mask[0].nonzero()[0].tolist() == [1, 2] and mask[1].nonzero()[0].tolist() == [7, 8]


def test_evaluate_runs_the_model_where_asked_or_where_the_run_ran(demo_run, tmp_path, monkeypatch):
    """session 32: `seqsal evaluate` ran every method on the CPU whatever the run used (an H200 run's evaluation
    too); it now takes --device, default the run's where this machine has it."""
    from click.testing import CliRunner

    from seqsal import evaluate as ev
    from seqsal.cli import main
    asked = []

    def recorded(record, device):
        asked.append((record["parameters"]["device"], device))
        return "cpu"

    import shutil
    run = shutil.copytree(demo_run, tmp_path / "run")  # evaluate writes into the folder
    monkeypatch.setattr(ev, "run_device", recorded)
    for extra, device in (([], None), (["--device", "CPU"], "CPU")):
        result = CliRunner().invoke(main, ["evaluate", str(run), "--methods", "saliency", "--max-regions", "2",
                                           "--no-sanity", "-q", *extra])
        assert result.exit_code == 0, result.output
        assert asked[-1] == ("cpu", device)
