"""seqsal train's outputs: no silent overwrite (--force), one report per model (STEM.train_report.html/.json),
the umask's permissions, strict JSON (null, not NaN), and labels that cannot teach anything refused up front."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.train import train_model
from seqsal.train_data import read_labels
from seqsal.train_outputs import check_train_outputs, report_paths, summary_json
from tests.test_train import TINY, _options, world  # noqa: F401 (world: the fixture)


def _strict(text: str) -> dict:
    """Parse JSON as RFC 8259 does: NaN/Infinity are errors."""
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def _train(world, out, *extra: str):  # noqa: F811
    config = out.parent / "config.json"
    if not config.exists():
        config.write_text(json.dumps(TINY))
    return CliRunner().invoke(main, [
        "train", str(world / "genome.fa"), str(world / "labels.tsv"), "-o", str(out), "--model-config", str(config),
        "--window", "64", "--valid-chroms", "chrB", "--test-chroms", "chrC", "--tasks", "activity", "--epochs", "1",
        "--batch-size", "16", "--quiet", *extra])


def test_a_second_train_into_the_same_model_is_refused_without_force_and_each_model_has_its_report(world, tmp_path):
    old = os.umask(0o022)
    try:
        first = _train(world, tmp_path / "a.safetensors")
        assert first.exit_code == 0, first.output
        assert (tmp_path / "a.safetensors").stat().st_mode & 0o777 == 0o644  # as the umask says, like the reports
        before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
        again = _train(world, tmp_path / "a.safetensors")
        assert again.exit_code == 2
        assert again.output.strip().splitlines() == [
            f"seqsal: error: {tmp_path / 'a.safetensors'}: exists already (an earlier training run's); pass --force "
            "to overwrite it, or give another output path"]
        assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()} == before
        assert _train(world, tmp_path / "a.safetensors", "--force").exit_code == 0
        assert (tmp_path / "a.safetensors").stat().st_mtime_ns != before["a.safetensors"][1]
        assert _train(world, tmp_path / "b.safetensors").exit_code == 0
    finally:
        os.umask(old)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"a.train_report.html", "a.train_report.json", "b.train_report.html", "b.train_report.json"} <= names
    assert "train_report.html" not in names
    assert _strict((tmp_path / "b.train_report.json").read_text())["model"] == str(tmp_path / "b.safetensors")


def test_resume_and_force_and_an_interrupted_checkpoint(tmp_path):
    model, ckpt = str(tmp_path / "m.safetensors"), str(tmp_path / "m.safetensors.ckpt")
    reports = report_paths(model)
    assert reports == (str(tmp_path / "m.train_report.html"), str(tmp_path / "m.train_report.json"))
    assert report_paths(model, str(tmp_path / "r.html"))[1] == str(tmp_path / "r.json")
    check_train_outputs(model, reports, ckpt, force=False, resume=False)  # nothing there: fine
    with pytest.raises(InputError, match="contradict"):
        check_train_outputs(model, reports, ckpt, force=True, resume=True)
    open(ckpt, "w").close()
    with pytest.raises(InputError, match=r"m.safetensors.ckpt: the checkpoint of an interrupted training run; "
                                         r"pass resume to finish it or force to start over"):
        check_train_outputs(model, reports, ckpt, force=False, resume=False)
    check_train_outputs(model, reports, ckpt, force=False, resume=True)
    open(reports[1], "w").close()  # a report left there: refused as the model is
    with pytest.raises(InputError, match="m.train_report.json: exists already"):
        check_train_outputs(model, reports, ckpt, force=False, resume=False)
    check_train_outputs(model, reports, ckpt, force=True, resume=False)


def test_undefined_numbers_are_null_in_the_json():
    text = summary_json({"r": float("nan"), "best": -np.inf, "x": [np.float32("nan"), np.float32(0.5)],
                         "a": np.array([1.0, np.inf]), "ok": 2})
    assert _strict(text) == {"r": None, "best": None, "x": [None, 0.5], "a": [1.0, None], "ok": 2}


def test_a_constant_test_split_is_trained_and_reported_as_null(world, tmp_path):  # noqa: F811
    rows = world.joinpath("labels.tsv").read_text().splitlines()
    rows = [rows[0]] + [row if not row.startswith("chrC") else "\t".join(row.split("\t")[:3] + ["1.0", "1"])
                        for row in rows[1:]]
    (tmp_path / "labels.tsv").write_text("\n".join(rows) + "\n")
    summary = train_model(world / "genome.fa", read_labels(tmp_path / "labels.tsv", tasks=["activity"]),
                          tmp_path / "m.safetensors", _options(epochs=1), quiet=True)
    assert np.isnan(summary["metrics"]["test"]["pearson"]["activity"])
    assert _strict((tmp_path / "m.train_report.json").read_text())["metrics"]["test"]["pearson"] == {"activity": None}


def _labels_with(world, tmp_path, chrom: str, value: str, bed: bool = False):  # noqa: F811
    """The world's labels with ``activity`` set to ``value`` on ``chrom`` (all chromosomes: ``*``)."""
    lines = world.joinpath("labels.tsv").read_text().splitlines()
    rows = [row.split("\t") for row in lines[1:]]
    for row in rows:
        if chrom in ("*", row[0]):
            row[3] = value
    if bed:
        path = tmp_path / "labels.narrowPeak"
        path.write_text("".join(f"{c}\t{s}\t{e}\tp\t0\t.\t{a}\t-1\t-1\t10\n" for c, s, e, a, _ in rows))
        return path
    path = tmp_path / "labels.tsv"
    path.write_text(lines[0] + "\n" + "".join("\t".join(row) + "\n" for row in rows))
    return path


def test_constant_labels_are_refused_before_training_naming_the_file_the_column_and_what_to_do(world, tmp_path):
    bed = _labels_with(world, tmp_path, "*", "0", bed=True)
    with pytest.raises(InputError, match=r"labels.narrowPeak: column 7 is 0 in all 40 training windows: .* "
                                         r"with value_column=N"):
        train_model(world / "genome.fa", bed, tmp_path / "m.safetensors", _options(), quiet=True)
    tsv = _labels_with(world, tmp_path, "chrA", "2.5")
    with pytest.raises(InputError, match=r"labels.tsv: column 4 \(activity\) is 2.5 in all 40 training windows: "
                                         r".*leave it out with tasks"):
        train_model(world / "genome.fa", tsv, tmp_path / "m.safetensors", _options(), quiet=True)
    tsv = _labels_with(world, tmp_path, "chrB", "0")
    with pytest.raises(InputError, match=r"column 4 \(activity\) is 0 in all 40 validation windows "
                                         r"\(valid_chroms chrB\): the validation score is undefined.*"
                                         r"or leave activity out with tasks$"):
        train_model(world / "genome.fa", tsv, tmp_path / "m.safetensors", _options(), quiet=True)
    assert not any(tmp_path.glob("m.*"))
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY))
    result = CliRunner().invoke(main, ["train", str(world / "genome.fa"), str(bed), "-o", str(tmp_path / "m.st"),
                                       "--valid-chroms", "chrB", "--window", "64", "--model-config", str(config)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "--value-column=N" in result.output


def test_a_non_number_label_gets_advice_that_fits_the_file_kind(world, tmp_path):  # noqa: F811
    tsv = _labels_with(world, tmp_path, "chrA", "NA")
    with pytest.raises(InputError, match=r"labels.tsv:2: column 4 is 'NA', not a number; .*out with tasks") as caught:
        read_labels(tsv)
    assert "value_column" not in str(caught.value)
    bed = _labels_with(world, tmp_path, "chrA", "NA", bed=True)
    with pytest.raises(InputError, match=r"labels.narrowPeak:1: column 7 is 'NA', not a number; .*value_column"):
        read_labels(bed)
