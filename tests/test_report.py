import base64
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from click.testing import CliRunner

from seqsal.cli import main
from seqsal.io import write_npz
from tests.test_motifs import JASPAR, planted_run


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
