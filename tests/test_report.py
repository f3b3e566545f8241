import base64
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from click.testing import CliRunner

from seqsal.cli import main
from seqsal.io import write_npz
from motif_helpers import JASPAR, planted_run


def make_run(tmp_path, jaspar_motifs, with_calls=True):
    one_hot, hyp, lengths, seqlets, _ = planted_run(jaspar_motifs, n_regions=90)
    write_npz(tmp_path / "attributions.npz", {"one_hot": one_hot, "hypothetical": hyp, "length": lengths})
    n = len(lengths)
    regions = pd.DataFrame({"index": np.arange(n), "name": [f"r{i}" for i in range(n)], "chrom": "chr1",
                            "start": np.arange(n) * 1000, "end": np.arange(n) * 1000 + 200, "strand": "+",
                            "prediction": np.linspace(-1, 3, n), "status": "ok"})
    regions.to_csv(tmp_path / "regions.tsv", sep="\t", index=False)
    (tmp_path / "run.json").write_text('{"command": ["seqsal", "attribute"], "method": "grad_x_input", "n_regions": 90}')
    if with_calls:
        start = regions["start"].to_numpy()[seqlets["region_index"]]
        track = (np.asarray(one_hot) * np.asarray(hyp)).sum(axis=1)  # a seqlet's score: its track's sum, as seqsal's
        seqlets = seqlets.assign(score=[float(track[r, a:b].sum()) for r, a, b in zip(
            seqlets["region_index"], seqlets["offset_start"], seqlets["offset_end"])])
        table = seqlets.assign(name=[f"seqlet_{i:06d}" for i in range(len(seqlets))], chrom="chr1",
                               start=start + seqlets["offset_start"], end=start + seqlets["offset_end"],
                               qvalue=0.01, rank=np.arange(1, len(seqlets) + 1))
        table.to_csv(tmp_path / "seqlets.tsv", sep="\t", index=False)
        table.head(10).assign(name=lambda t: t["name"].str.replace("seqlet", "element")).to_csv(
            tmp_path / "elements.tsv", sep="\t", index=False)
        (tmp_path / "attributions.bw").write_bytes(b"")
    return tmp_path


def test_logos_motifs_report_commands(tmp_path):
    from seqsal.motifs import read_meme

    jaspar_motifs = {m.name: m for m in read_meme(JASPAR)}
    out = make_run(tmp_path, jaspar_motifs)
    runner = CliRunner()
    result = runner.invoke(main, ["motifs", str(out), "--seqlets", str(out / "seqlets.tsv"), "--min-seqlets", "15", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    motifs = pd.read_csv(out / "motifs.tsv", sep="\t")
    assert set(motifs["match_name"]) == {"Spi1", "CEBPB", "REST"}

    result = runner.invoke(main, ["logos", str(out), "--top", "3", "--format", "png", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(list((out / "logos" / "seqlets").glob("*.png"))) == 3
    assert len(list((out / "logos" / "elements").glob("*.png"))) == 3
    assert len(list((out / "logos" / "regions").glob("*.png"))) == 3
    assert sorted(p.stem for p in (out / "logos" / "motifs").glob("*.png")) == ["neg_1", "pos_1", "pos_2"]
    # a second run with fewer logos in another format leaves only its own (fresh6: the PNGs stayed beside the SVGs),
    # and a user's own files there stay (fresh7: they were removed too)
    (out / "logos" / "NOTES.txt").write_text("mine")
    (out / "logos" / "paper").mkdir()
    (out / "logos" / "paper" / "fig1.pdf").write_text("mine")
    (out / "logos" / "motifs" / "notes.txt").write_text("mine")
    result = runner.invoke(main, ["logos", str(out), "--top", "2", "--format", "svg", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    drawn = sorted(p.relative_to(out / "logos").as_posix() for p in (out / "logos").rglob("*") if p.is_file())
    mine = ["NOTES.txt", "motifs/notes.txt", "paper/fig1.pdf"]
    assert all(name in drawn for name in mine)
    assert all(name.endswith(".svg") for name in drawn if name not in mine)
    assert len([name for name in drawn if name.startswith("seqlets/")]) == 2

    result = runner.invoke(main, ["report", str(out), "--top", "4", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (out / "report.html").read_text()
    assert "http://" not in text and "https://" not in text and "<script" not in text
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 1 + 4 + 3  # histogram, 4 elements, 3 motifs
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    assert 'href="attributions.bw"' in text and 'href="motifs.meme"' in text
    for name in ("Spi1", "CEBPB", "REST", "element_000000", "grad_x_input"):
        assert name in text
    # this folder has no null.npz: its motifs are untested against a null, and the report says so (it was silent)
    assert "not tested against a shuffled null" in text
    # no motif calls (no null): the elements' motifs column is discovery's lenient instances, and says so
    assert "discovery's instances overlapping it (motif_instances.tsv: lenient, not FDR-controlled)" in text
    # with motif_calls.tsv, the column reads the FDR-controlled calls instead
    from seqsal.motifs.instances import CALL_COLUMNS
    from seqsal.provenance import ATTRIBUTIONS, record_written

    element = pd.read_csv(out / "elements.tsv", sep="\t").iloc[0]
    call = {"chrom": element["chrom"], "start": element["start"], "end": element["start"] + 5, "strand": "+",
            "motif": "neg_1", "sign": "-", "region_index": element["region_index"], "region_name": "r",
            "pvalue": 0.001, "match": 0.9, "match_pvalue": 0.01, "qvalue": 0.01}
    pd.DataFrame([call], columns=CALL_COLUMNS).to_csv(out / "motif_calls.tsv", sep="\t", index=False)
    record_written(out, "motifs", (ATTRIBUTIONS,))
    result = runner.invoke(main, ["report", str(out), "--top", "4", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (out / "report.html").read_text()
    assert "the kept motifs' instance calls (motif_calls.tsv) overlapping it" in text and "neg_1 (REST)" in text
    assert 'href="motif_calls.tsv"' in text  # in the Files list too (fresh6)


def test_report_motif_cards_show_the_support_test_or_warn_that_there_was_none():
    from seqsal.report_tables import support_note

    tested = pd.DataFrame({"motif": ["pos_1"], "enrichment": [4.2], "support_pvalue": [1e-9]})
    assert "passed the support test" in support_note(tested) and "warn" not in support_note(tested)
    untested = tested.assign(enrichment=np.nan, support_pvalue=np.nan)
    assert 'class="warn"' in support_note(untested) and "--null shuffle" in support_note(untested)
    assert 'class="warn"' in support_note(tested.drop(columns=["enrichment", "support_pvalue"]))


def test_logos_without_calls_draw_top_regions_and_errors(tmp_path):
    from seqsal.motifs import read_meme

    out = make_run(tmp_path, {m.name: m for m in read_meme(JASPAR)}, with_calls=False)
    result = CliRunner().invoke(main, ["logos", str(out), "--top", "2", "--format", "svg", "-q"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "logos" / "regions").glob("*.svg")) == ["top0001_r89.svg", "top0002_r88.svg"]
    result = CliRunner().invoke(main, ["motifs", str(out), "--seqlets", str(out / "seqlets.tsv"), "-q"])
    assert result.exit_code == 2 and "seqlets.tsv: seqlet table not found" in result.output
    result = CliRunner().invoke(main, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2
    (out / "x").mkdir()
    result = CliRunner().invoke(main, ["report", str(out / "x")])
    assert result.exit_code == 2 and "attributions.npz not found" in result.output


def test_motifs_in_calls_names_the_motifs_inside_each_call():
    from seqsal.report import motifs_in_calls

    calls = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2"], "start": [100, 500, 100], "end": [200, 600, 200]})
    instances = pd.DataFrame({"motif": ["pos_1", "pos_1", "neg_1", "pos_2", "pos_1"],
                              "chrom": ["chr1", "chr1", "chr1", "chr2", "chr1"],
                              "start": [110, 150, 190, 300, 600], "end": [120, 160, 205, 310, 610]})
    motifs = pd.DataFrame({"motif": ["pos_1", "pos_2", "neg_1"], "match_name": ["Spi1", "CTCF", "REST"],
                           "match_qvalue": [0.001, 0.2, 0.01]})
    # call 1 holds two pos_1 sites and a REST site reaching into it; the pos_1 site at 600 starts at call 2's end;
    # chr2's pos_2 lies outside call 3; pos_2's match is not significant
    assert motifs_in_calls(calls, instances, motifs) == ["pos_1 (Spi1) x2, neg_1 (REST)", "", ""]
    assert motifs_in_calls(calls, None, motifs) == ["", "", ""]
    assert motifs_in_calls(calls.iloc[2:], instances.assign(start=instances["start"] - 200), None) == ["pos_2"]


# --- calibration of the p-values (peaks.calibration of run.json) ---------------------------------------------

def _called_run(tmp_path):
    """A run folder whose run.json holds the peak caller's real record (Laplace null; no model needed)."""
    from seqsal.motifs import read_meme
    from seqsal.peaks import call_peaks_from_run, update_run_record

    out = make_run(tmp_path, {m.name: m for m in read_meme(JASPAR)}, with_calls=False)
    calls = call_peaks_from_run(out, null="laplace", chrom_sizes={"chr1": 200_000})
    update_run_record(out, calls.info)
    return out


def _section(text):
    start = text.index('id="calibration"')
    return text[start:text.index("<h2", start)]


def _lines(ax):
    return {line.get_label(): line for line in ax.lines}


def test_report_shows_calibration_of_both_signs_from_run_json(tmp_path):
    import json

    out = _called_run(tmp_path)
    peaks = json.loads((out / "run.json").read_text())["peaks"]
    assert peaks["calibration"]["warnings"] == []
    result = CliRunner().invoke(main, ["report", str(out), "--top", "2", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (out / "report.html").read_text()
    section = _section(text)
    assert "No calibration warnings" in section and 'class="warn"' not in text
    assert len(re.findall(r'src="data:image/png;base64,', section)) == 1
    assert "Left of the dotted line" not in section  # the Laplace null does not count: no 1/(n+1) line
    rows = re.findall(r"<tr><td>([+-])</td>(.*?)</tr>", section)
    assert [sign for sign, _ in rows] == ["+", "-"]
    for sign, cells in rows:
        entry = peaks["calibration"][sign]
        values = re.findall(r"<td[^>]*>([^<]*)</td>", cells)
        assert values[0] == f"{entry['tests']:,}" and values[1] == "laplace"
        assert values[-1] == f"{entry['bulk_ratio']:.3f}"
        assert values[5] == f"{peaks['null_model'][sign]['scale']:.3g}"
    outlook = peaks["calibration"]["outlook"]  # what other FDR levels would call, from the same record
    assert f"Smallest q-value of the run: <b>{outlook['smallest_qvalue']:.3g}</b>" in section
    for level, count in outlook["passing"].items():
        assert f"{float(level):g}: {'&ge; ' if count else ''}{count:,}" in section


def test_report_shows_calibration_warnings_prominently(tmp_path):
    import json

    from seqsal.report import build_report

    out = _called_run(tmp_path)
    record = json.loads((out / "run.json").read_text())
    calibration = record["peaks"]["calibration"]
    calibration["-"].update(null_kind="empirical", null_tests=99, smallest_counted_p=0.01, tail_fit_ok=False,
                            tail_shape=0.31)
    calibration["null_row_spread"] = {"regions": 7, "sd_log_scale": 0.82}
    calibration["warnings"] = ["the shuffled null holds only 99 - tests: raise --min-null-bases",
                               "the - null's tail fit does not hold: rerun `seqsal call-peaks`"]
    record["peaks"].update(null="shuffle", null_sample={"file": "null.npz", "n_regions": 7, "copies": 3,
                                                         "bases": 4200})
    (out / "run.json").write_text(json.dumps(record))
    text = build_report(out, top=2)
    section = _section(text)
    box = section[section.index('class="warn"'):]
    assert "99 - tests: raise <code>--min-null-bases</code>" in box
    assert "tail fit does not hold: rerun <code>seqsal call-peaks</code>" in box
    banner = text[text.index('class="warn"'):text.index('id="calibration"')]  # above the fold too
    assert "2 calibration warnings" in banner and 'href="#calibration"' in banner
    assert "7 regions shuffled 3 times each, 4,200 bases" in section and "Left of the dotted line" in section
    minus = re.search(r"<tr><td>-</td>(.*?)</tr>", section).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", minus)[1:] == [
        "empirical", "99", "7", "3", f"{record['peaks']['null_model']['-']['scale']:.3g}", "0.82", "0.01", "0.31", "NO",
        f"{calibration['-']['bulk_ratio']:.3f}"]


def test_report_without_calibration_says_why(tmp_path):
    import json

    from seqsal.motifs import read_meme
    from seqsal.report import build_report

    out = make_run(tmp_path, {m.name: m for m in read_meme(JASPAR)})  # run.json without peaks (--no-peaks)
    section = _section(build_report(out, top=2))
    assert "No peak calls in this run" in section and "<img" not in section
    record = json.loads((out / "run.json").read_text())
    record["peaks"] = {"null": "shuffle", "n_tests": 100, "null_model": {}}  # written before calibration existed
    (out / "run.json").write_text(json.dumps(record))
    assert "older seqsal" in _section(build_report(out, top=2))
    record["peaks"] = {"null": "shuffle", "calls": "not made in a shard"}
    (out / "run.json").write_text(json.dumps(record))
    assert "<code>seqsal merge</code>" in _section(build_report(out, top=2))
    (out / "run.json").unlink()
    assert "No peak calls in this run" in _section(build_report(out, top=2))


def test_calibration_figure_plots_the_run_json_numbers(tmp_path):
    import json

    import pytest

    from seqsal.errors import InputError
    from seqsal.plot import calibration_figure

    out = _called_run(tmp_path)
    calibration = json.loads((out / "run.json").read_text())["peaks"]["calibration"]
    calibration["-"].update(null_kind="empirical", smallest_counted_p=0.004, tail_fit_ok=True)
    calibration["-"]["observed_at_or_below"][:2] = [0, 0]  # as a shuffled null's run without far-tail calls
    fig = calibration_figure(calibration)
    assert len(fig.axes) == 2
    for ax, sign in zip(fig.axes, "+-"):
        entry = calibration[sign]
        assert ax.get_title().startswith(sign) and f"{entry['tests']:,} tests" in ax.get_title()
        expected = np.array(entry["expected_at_or_below"])
        observed = np.array(entry["observed_at_or_below"])
        assert expected[-1] == entry["tests"] and observed[-1] == entry["tests"]
        lines = _lines(ax)
        some = (observed > 0) & (expected > 0)
        np.testing.assert_array_equal(lines["observed"].get_xdata(), expected[some])
        np.testing.assert_array_equal(lines["observed"].get_ydata(), observed[some])
        none = (observed == 0) & (expected > 0)
        assert none.sum() == (2 if sign == "-" else 0)
        np.testing.assert_array_equal(lines["observed = 0"].get_xdata(), expected[none])
        assert np.all(lines["observed = 0"].get_ydata() == ax.get_ylim()[0])  # on the bottom edge
        assert ax.get_xscale() == ax.get_yscale() == "log"
        if sign == "-":  # counting stops at p = 1/(n+1): x = m / (n + 1)
            assert lines["p = 1/(n+1) of the null"].get_xdata()[0] == pytest.approx(entry["tests"] * 0.004)
        else:
            assert "p = 1/(n+1) of the null" not in lines
    only_plus = calibration_figure({"+": calibration["+"], "warnings": []})
    assert len(only_plus.axes) == 1
    with pytest.raises(InputError):
        calibration_figure({"warnings": []})


def test_motifs_refuse_a_seqlet_table_of_another_run_over_the_same_regions(tmp_path):
    """A seqlet table of another run (another method) names the same regions, so the region check passed it and
    its instances took this folder's seqlet names. seqsal's seqlets are scored by their track's sum: a table
    whose scores are not this folder's sums is refused with its line; another tool's table (names not
    seqlet_NNNNNN) is not judged by its scores."""
    from seqsal.motifs import read_meme

    out = make_run(tmp_path / "run", {m.name: m for m in read_meme(JASPAR)})
    table = pd.read_csv(out / "seqlets.tsv", sep="\t")
    foreign = tmp_path / "other_method_seqlets.tsv"
    table.assign(score=table["score"] * 1.5).to_csv(foreign, sep="\t", index=False)
    result = CliRunner().invoke(main, ["motifs", str(out), "--seqlets", str(foreign), "--database", "none", "-q"])
    assert result.exit_code == 2, result.output
    assert f"{foreign}:2: the seqlet's score" in result.output and "another run" in result.output
    assert not (out / "motifs.tsv").exists()
    other_tool = tmp_path / "other_tool.tsv"
    table.assign(score=table["score"] * 1.5, name=[f"s{i}" for i in range(len(table))]).to_csv(
        other_tool, sep="\t", index=False)
    result = CliRunner().invoke(main, ["motifs", str(out), "--seqlets", str(other_tool), "--database", "none",
                                       "--min-seqlets", "15", "-q"])
    assert result.exit_code == 0, result.output


def test_report_says_seqsal_motifs_kept_no_motif_when_motifs_tsv_is_empty(tmp_path):
    """fresh6: a `seqsal motifs` run that kept no motif left an empty motifs.tsv, and the report said "No
    motifs.tsv: run seqsal motifs"."""
    from seqsal.motifs import read_meme
    from seqsal.motifs.export import MOTIF_TABLE_COLUMNS
    from seqsal.report import build_report

    out = make_run(tmp_path, {m.name: m for m in read_meme(JASPAR)})
    assert "No motifs.tsv: run <code>seqsal motifs</code>" in build_report(out, top=2)
    pd.DataFrame(columns=MOTIF_TABLE_COLUMNS).to_csv(out / "motifs.tsv", sep="\t", index=False)
    text = build_report(out, top=2)
    assert "No motif was kept by <code>seqsal motifs</code>" in text and "No motifs.tsv" not in text


def test_report_says_no_call_passed_when_the_call_files_are_empty(tmp_path):
    """fresh16: after `seqsal call-peaks --fdr 0.2` called nothing, the report said "No seqlets.tsv/elements.tsv in
    this folder: run seqsal call-peaks" beside the two (empty) files."""
    from seqsal.motifs import read_meme
    from seqsal.report import build_report

    out = make_run(tmp_path, {m.name: m for m in read_meme(JASPAR)}, with_calls=False)
    assert "No seqlets.tsv/elements.tsv in this folder" in build_report(out, top=2)
    columns = ["name", "chrom", "start", "end", "sign", "score", "pvalue", "qvalue", "region_index"]
    for name in ("seqlets.tsv", "elements.tsv"):
        pd.DataFrame(columns=columns).to_csv(out / name, sep="\t", index=False)
    text = build_report(out, top=2)
    assert "No seqlet or element passed the FDR" in text and "No seqlets.tsv" not in text


def test_logos_stopped_while_drawing_are_unrecorded_not_current(tmp_path, monkeypatch):
    """A logos run killed part-way left its new logos beside the earlier run's, under the earlier run's record, which
    read as current; the record now goes before the drawing starts, so they read as unrecorded until a run finishes."""
    import seqsal.report as report
    from seqsal.motifs import read_meme
    from seqsal.provenance import status

    out = make_run(tmp_path, {m.name: m for m in read_meme(JASPAR)}, with_calls=False)
    assert CliRunner().invoke(main, ["logos", str(out), "--top", "2", "-q"]).exit_code == 0
    assert status(out, "logos") == "current"

    real = report.render_jobs

    def stopped(jobs, **kwargs):  # draws one logo, then the process is stopped
        real(jobs[:1], **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "render_jobs", stopped)
    try:
        report.write_logos(out, top=3, progress=False)
    except KeyboardInterrupt:
        pass
    assert status(out, "logos") == "unrecorded"
    monkeypatch.undo()
    assert CliRunner().invoke(main, ["logos", str(out), "--top", "3", "-q"]).exit_code == 0
    assert status(out, "logos") == "current"


def test_the_call_headings_name_each_kind_s_level():
    """Seqlets (0.2) and elements (0.05) have their own FDR since session 30: the report's heading says which; a
    folder called before (one ``fdr`` for both) names that one level for both, and a record without one says none."""
    from seqsal.report_tables import calls_heading

    peaks = {"fdr": 0.2, "element_fdr": 0.05}
    assert calls_heading(peaks, "elements", 71, 241) == " of 71 at FDR 0.05 (and 241 seqlets at FDR 0.2)"
    assert calls_heading(peaks, "seqlets", 241) == " of 241 at FDR 0.2"
    assert calls_heading({"fdr": 0.05}, "elements", 3, 1) == " of 3 at FDR 0.05 (and 1 seqlet at FDR 0.05)"
    assert calls_heading({}, "elements", 3) == " of 3"
    one = {**peaks, "options": {"signs": "+"}}  # fresh31b: the report never said a sign was left out
    assert calls_heading(one, "seqlets", 88) == " of 88 at FDR 0.2; - not called (--signs +)"
    withheld = {**one, "withheld": {"-": {"checked": 40, "confirmed": 5}}}
    assert calls_heading(withheld, "seqlets", 88) == " of 88 at FDR 0.2; - not called (the model does not confirm it)"
    from seqsal.report_tables import outlook_line

    by_sign = {"calibration": {"outlook": {"smallest_qvalue": 0.01, "passing": {"0.05": 125},
                                           "by_sign": {"+": {"smallest_qvalue": 0.107, "passing": {"0.05": 0}}}}},
               "fdr": 0.05, "options": {"signs": "+"}}
    assert "<b>0.107</b>" in outlook_line(by_sign, "out") and "125" not in outlook_line(by_sign, "out")
