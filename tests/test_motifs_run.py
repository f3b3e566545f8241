"""seqsal.motifs.run: a run folder's seqlets -> motifs.meme, motifs.tsv, motif_instances.tsv, motifs.npz, motifs.h5."""
import numpy as np
import pandas as pd
import pytest

from seqsal.motifs import best_matches, default_database, discovery_seqlets, read_meme, run_motifs
from motif_helpers import JASPAR, ROOT, check_modisco_h5, jaspar_motifs, planted_run


@pytest.fixture(scope="module")
def planted():
    return planted_run(jaspar_motifs())


def test_run_motifs_writes_the_run_folder_outputs(tmp_path, planted):
    from seqsal.io import write_npz

    one_hot, hyp, lengths, seqlets, _ = planted
    write_npz(tmp_path / "attributions.npz", {"one_hot": one_hot, "hypothetical": hyp, "length": lengths})
    regions = pd.DataFrame({"index": np.arange(len(lengths)), "name": [f"r{i}" for i in range(len(lengths))],
                            "chrom": "chr1", "start": np.arange(len(lengths)) * 1000, "end": np.arange(len(lengths)) * 1000 + 200})
    regions.to_csv(tmp_path / "regions.tsv", sep="\t", index=False)
    seqlets.assign(name=[f"s{i}" for i in range(len(seqlets))]).to_csv(tmp_path / "seqlets.tsv", sep="\t", index=False)
    result = run_motifs(tmp_path, seqlets_path=tmp_path / "seqlets.tsv", database=JASPAR, progress=False)
    table = pd.read_csv(tmp_path / "motifs.tsv", sep="\t")
    assert list(table["motif"]) == ["pos_1", "pos_2", "neg_1"]
    assert set(table["match_name"]) == {"Spi1", "CEBPB", "REST"} and (table["match_qvalue"] < 0.01).all()
    assert len(read_meme(tmp_path / "motifs.meme")) == 3
    instances = pd.read_csv(tmp_path / "motif_instances.tsv", sep="\t")
    assert len(instances) == table["n_seqlets"].sum()
    # each instance carries its seqlet's score (and p/q-values when the seqlet table has them: not this one)
    support = seqlets.loc[instances["seqlet"].to_numpy()]
    assert np.array_equal(instances["score"].to_numpy(), support["score"].to_numpy())
    assert instances["qvalue"].isna().all()
    assert ((instances["end"] - instances["start"]) == instances["motif"].map(table.set_index("motif")["width"])).all()
    assert (instances["start"] // 1000 == instances["region_index"]).all()
    matches = pd.read_csv(tmp_path / "motif_matches.tsv", sep="\t")
    assert matches.groupby("query").size().tolist() == [5, 5, 5]
    with np.load(tmp_path / "motifs.npz") as arrays:
        assert sorted(arrays.files)[:3] == ["neg_1.cwm", "neg_1.hypothetical_cwm", "neg_1.pwm"]
    assert result["timing_seconds"]["total"] > 0
    check_modisco_h5(tmp_path / "motifs.h5", result["motifs"], one_hot, hyp, tmp_path)


def test_demo_run_gives_every_planted_motif(tmp_path):
    """The acceptance check of benchmarks/motifs_planted.py on the bundled demo, end to end: `seqsal attribute`
    (default grad x input), then `seqsal motifs` with its defaults finds all 6 planted motifs (111-136 sites each,
    CTCF's per-base contribution barely above the background) and no motif matching nothing planted."""
    from click.testing import CliRunner

    from seqsal.cli import main

    demo = ROOT / "data" / "demo"
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["attribute", str(demo / "genome.fa"), str(demo / "regions.bed"), "--model",
                                       str(demo / "model.safetensors"), "-o", str(out), "--no-peaks", "--quiet"])
    assert result.exit_code == 0, result.output
    found = run_motifs(out, database=default_database(), progress=False)
    best = best_matches(found["matches"], 1)
    planted = set(pd.read_csv(demo / "planted.bed", sep="\t", header=None)[3])
    good = best[(best["qvalue"] < 0.05) & best["target_name"].isin(planted)]
    assert set(good["target_name"]) == planted == {"GATA1::TAL1", "Spi1", "CEBPB", "FOS::JUN", "CTCF", "REST"}
    assert len(best) == len(good) == len(planted)  # nothing spurious, nothing twice
    assert len(discovery_seqlets(out)) > 1000
    instances = pd.read_csv(out / "motif_instances.tsv", sep="\t")
    assert instances["qvalue"].between(0, 1).all() and (instances["qvalue"] <= 0.05).sum() >= 50


def test_bundled_database_is_package_data_and_the_file_of_data_motifs():
    """The default database ships inside the package (importlib.resources), so a non-editable install has it; the
    repository's data/motifs/jaspar_subset.meme (README, workflow config) is the same file."""
    from importlib.resources import files

    path = default_database()
    assert path is not None and path == str(files("seqsal") / "data" / "jaspar_subset.meme")
    assert len(read_meme(path)) == 17
    assert (ROOT / "data" / "motifs" / "jaspar_subset.meme").read_bytes() == open(path, "rb").read()
