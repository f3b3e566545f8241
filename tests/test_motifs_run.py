"""seqsal.motifs.run: a run folder's seqlets -> motifs.meme, motifs.tsv, motif_instances.tsv, motifs.npz, motifs.h5."""
import os

import numpy as np
import pandas as pd
import pytest

from seqsal.motifs import best_matches, default_database, discovery_seqlets, matched_database, read_meme, run_motifs
from motif_helpers import JASPAR, ROOT, check_modisco_h5, jaspar_motifs, planted_run
from tests.conftest import fail_table_writes


@pytest.fixture(scope="module")
def planted():
    return planted_run(jaspar_motifs())


def test_run_motifs_writes_the_run_folder_outputs(tmp_path, planted):
    from seqsal.io import write_npz

    one_hot, hyp, lengths, seqlets, _ = planted
    write_npz(tmp_path / "attributions.npz", {"one_hot": one_hot, "hypothetical": hyp, "length": lengths})
    (tmp_path / "run.json").write_text("{}")  # a finished run's folder holds its record
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
    assert matched_database(tmp_path) == os.path.abspath(JASPAR)  # what the audit scans with
    # one name per motif across the folder, and a join on seqlet_name pairs each instance with its own seqlet
    assert set(matches["query"]) == set(table["motif"]) == {m.identifier for m in read_meme(tmp_path / "motifs.meme")}
    called = pd.read_csv(tmp_path / "seqlets.tsv", sep="\t")
    joined = instances.merge(called, left_on="seqlet_name", right_on="name", suffixes=("", "_seqlet"))
    assert len(joined) == len(instances) and (joined["region_index"] == joined["region_index_seqlet"]).all()
    offset = joined["start"] - joined["region_index"] * 1000
    width = joined["end"] - joined["start"]
    assert ((offset < joined["offset_end"]) & (offset + width > joined["offset_start"])).all()
    with np.load(tmp_path / "motifs.npz") as arrays:
        assert sorted(arrays.files)[:3] == ["neg_1.cwm", "neg_1.hypothetical_cwm", "neg_1.pwm"]
    assert result["timing_seconds"]["total"] > 0
    check_modisco_h5(tmp_path / "motifs.h5", result["motifs"], one_hot, hyp, tmp_path)
    # fresh27a: tfmodisco-lite's own seqlet-bed, given the run's modisco_peaks.bed, places every instance where
    # motif_instances.tsv does (modisco adds 1 to each start); with the regions as peaks it put them elsewhere
    from modiscolite.io import write_bed_from_h5

    write_bed_from_h5(str(tmp_path / "motifs.h5"), str(tmp_path / "modisco_peaks.bed"), str(tmp_path / "m.bed"), "*",
                      None, True)
    placed = pd.read_csv(tmp_path / "m.bed", sep="\t", header=None, comment="t", usecols=[1, 2])
    assert len(placed) == len(instances)
    assert sorted(zip(placed[1] - 1, placed[2])) == sorted(zip(instances["start"], instances["end"]))


def test_a_write_that_fails_part_way_never_leaves_motifs_of_two_runs_that_read_as_current(tmp_path, planted,
                                                                                       monkeypatch):
    """A rerun whose motifs.tsv cannot be written (a full disk): the folder's motifs are either the earlier run's
    whole (its record current) or read as stale, never this run's motifs.meme beside the earlier key files."""
    import seqsal.motifs.run as motifs_run
    from seqsal.io import write_npz
    from seqsal.provenance import status

    one_hot, hyp, lengths, seqlets, _ = planted
    write_npz(tmp_path / "attributions.npz", {"one_hot": one_hot, "hypothetical": hyp, "length": lengths})
    (tmp_path / "run.json").write_text("{}")  # a finished run's folder holds its record
    pd.DataFrame({"index": np.arange(len(lengths)), "name": [f"r{i}" for i in range(len(lengths))], "chrom": "chr1",
                  "start": np.arange(len(lengths)) * 1000, "end": np.arange(len(lengths)) * 1000 + 200}).to_csv(
        tmp_path / "regions.tsv", sep="\t", index=False)
    named = seqlets.assign(name=[f"s{i}" for i in range(len(seqlets))])
    named.to_csv(tmp_path / "seqlets.tsv", sep="\t", index=False)
    run_motifs(tmp_path, seqlets_path=tmp_path / "seqlets.tsv", database="none", progress=False)
    before = (tmp_path / "motifs.meme").read_bytes()
    named[named["sign"] == "+"].to_csv(tmp_path / "positive.tsv", sep="\t", index=False)  # other motifs
    fail_table_writes(monkeypatch, motifs_run, "motifs.tsv")
    with pytest.raises(OSError):
        run_motifs(tmp_path, seqlets_path=tmp_path / "positive.tsv", database="none", progress=False)
    assert status(tmp_path, "motifs") != "current" or (tmp_path / "motifs.meme").read_bytes() == before


def test_demo_run_gives_every_planted_motif(demo_run):
    """The acceptance check of benchmarks/motifs_planted.py on the bundled demo, end to end: `seqsal attribute`
    (default grad x input, default shuffled null), then `seqsal motifs` with its defaults finds all 6 planted motifs
    (111-136 sites each, CTCF's per-base contribution barely above the background) and no motif matching nothing
    planted; every motif passes the support test against the shuffled null, and the seqlets clustered are sized
    by the evidence (FDR 0.9 against that null: 3,715 seqlets), not by a fixed lenient re-call."""
    demo = ROOT / "data" / "demo"
    out = demo_run
    found = run_motifs(out, database=default_database(), progress=False)
    best = best_matches(found["matches"], 1)
    planted = set(pd.read_csv(demo / "planted.bed", sep="\t", header=None)[3])
    good = best[(best["qvalue"] < 0.05) & best["target_name"].isin(planted)]
    assert set(good["target_name"]) == planted == {"GATA1::TAL1", "Spi1", "CEBPB", "FOS::JUN", "CTCF", "REST"}
    assert len(best) == len(good) == len(planted)  # nothing spurious, nothing twice
    assert found["dropped"] <= 1  # (here a GATA-like cluster no more frequent than in the shuffled null)
    assert 1000 < len(discovery_seqlets(out)) == found["n_seqlets"] < 5000
    table = pd.read_csv(out / "motifs.tsv", sep="\t")
    assert (table["support_pvalue"] < 1e-4).all() and (table["enrichment"] >= 1.5).all()
    assert (table["n_support_seqlets"] > table["expected_null_seqlets"]).all()
    instances = pd.read_csv(out / "motif_instances.tsv", sep="\t")
    assert instances["qvalue"].between(0, 1).all() and (instances["qvalue"] <= 0.05).sum() >= 50
    # one name, one thing (issue 15): the seqlets re-called for discovery are named apart from seqlets.tsv's calls
    # (a join on the name cannot pair an instance with another seqlet), and a motif is named alike in every file
    called = set(pd.read_csv(out / "seqlets.tsv", sep="\t")["name"])
    assert instances["seqlet_name"].str.match(r"discovery_\d{6}$").all() and not called & set(instances["seqlet_name"])
    matches = pd.read_csv(out / "motif_matches.tsv", sep="\t")
    assert set(matches["query"]) == set(table["motif"]) == {m.identifier for m in read_meme(out / "motifs.meme")}


def test_null_sequences_are_redrawn_as_the_model_saw_them(demo_run):
    """The support test reads the null's sequences redrawn from the genome: attributing the redrawn rows with the
    run's model gives null.npz's tracks back, for regions of every strand."""
    import json

    import torch

    from seqsal.attribution import Target
    from seqsal.engine import iter_region_attributions
    from seqsal.genome import Genome
    from seqsal.models import load_model
    from seqsal.io import region_arrays
    from seqsal.motifs.sides import null_one_hot

    run = json.loads((demo_run / "run.json").read_text())
    null = np.load(demo_run / "null.npz")
    null_tracks = region_arrays(demo_run / "null.npz", ("projected",))["projected"]  # row k: (L_k,)
    regions = pd.read_csv(demo_run / "regions.tsv", sep="\t")
    rows = np.flatnonzero(null["length"] >= run["parameters"]["window"])[[0, 1, 2, 3, -1]]  # fetched as themselves
    chosen = regions.iloc[null["region_index"][rows]].reset_index(drop=True)
    assert set(chosen["strand"]) >= {"+", "-"}
    redrawn = null_one_hot(demo_run, rows)
    sequences = {}
    for k, (_, region) in enumerate(chosen.iterrows()):
        length = int(null["length"][rows[k]])
        letters = np.array(list("ACGT"))[redrawn[k, :, :length].argmax(axis=0)]
        sequences[(region["chrom"], int(region["start"]), int(region["end"]))] = "".join(
            np.where(redrawn[k, :, :length].max(axis=0) == 1, letters, "N"))
    with Genome(run["genome"]) as genome:
        def fetch(chrom, start, end):  # the redrawn region inside its real genomic context (a 600-bp region
            for (c, s, e), text in sequences.items():  # is longer than the 500-bp window: fetched as itself)
                if c == chrom and s == start and e == end:
                    return text
            return genome.fetch(chrom, start, end)

        loaded = load_model(run["model"]["path"])
        torch.manual_seed(0)
        results = list(iter_region_attributions(loaded.module, fetch, chosen, run["method"],
                                                Target.parse(None).resolve(loaded.task_names),
                                                run["parameters"]["window"], run["parameters"]["stride"]))
    for k, result in enumerate(results):
        assert result.projected.shape == (int(null["length"][rows[k]]),)
        np.testing.assert_allclose(result.projected, null_tracks[rows[k]], atol=1e-5)


def test_bundled_database_is_package_data_and_the_file_of_data_motifs():
    """The default database ships inside the package (importlib.resources), so a non-editable install has it; the
    repository's data/motifs/jaspar_subset.meme (README, workflow config) is the same file."""
    from importlib.resources import files

    path = default_database()
    assert path is not None and path == str(files("seqsal") / "data" / "jaspar_subset.meme")
    assert len(read_meme(path)) == 17
    assert (ROOT / "data" / "motifs" / "jaspar_subset.meme").read_bytes() == open(path, "rb").read()


def test_a_moved_genome_is_refused_before_discovery(demo_run, tmp_path, monkeypatch):
    """fresh9: `seqsal motifs` ran discovery, then refused the moved genome the null's sequences come from."""
    import json
    import shutil

    import seqsal.motifs.run as motifs_run
    from seqsal.errors import InputError

    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    record = json.loads((copy / "run.json").read_text())
    record["genome"] = str(tmp_path / "moved" / "genome.fa")
    (copy / "run.json").write_text(json.dumps(record))

    def discovery(*args, **kwargs):
        raise AssertionError("discovery ran before the genome was checked")

    monkeypatch.setattr(motifs_run, "discover_motifs", discovery)
    with pytest.raises(InputError, match="relocate"):
        run_motifs(copy, progress=False)
