"""seqsal.peaks.nulls: the per-region null sample and the shuffled stretches the null is attributed on."""
import numpy as np
import pandas as pd

from seqsal.peaks.nulls import null_sample, shuffled_fetch


def test_null_sample_is_chosen_per_region():
    regions = pd.DataFrame({"chrom": ["chr1"] * 400, "start": np.arange(400) * 1000, "end": np.arange(400) * 1000 + 500,
                            "name": [f"r{i}" for i in range(400)]})
    chosen = set(null_sample(regions, 0.1, 0).tolist())
    assert 20 <= len(chosen) <= 60
    shard = regions.iloc[150:300].reset_index(drop=True)  # a shard sees a slice of the same regions
    assert {150 + i for i in null_sample(shard, 0.1, 0)} == {i for i in chosen if 150 <= i < 300}
    assert set(null_sample(regions, 0.1, 1).tolist()) != chosen


def test_shuffled_fetch_keeps_n_in_place_and_the_letters_of_each_piece():
    """N (and other non-ACGT codes) stay where they are; each stretch between them keeps its letters."""
    rng = np.random.default_rng(4)
    pieces = ["".join(rng.choice(list("ACGT"), n)) for n in (120, 80, 200)]
    genome = pieces[0] + "NNNNN" + pieces[1] + "R" + pieces[2]
    shuffled = shuffled_fetch(lambda chrom, start, end: genome[start:end], seed=3)("chr1", 0, len(genome))
    assert len(shuffled) == len(genome) and shuffled != genome
    assert [i for i, c in enumerate(shuffled) if c == "N"] == [i for i, c in enumerate(genome) if c in "NR"]
    assert sorted(shuffled.replace("N", "")) == sorted(genome.replace("N", "").replace("R", ""))


def test_few_region_run_gets_several_shuffles_of_each_region(tmp_path, small_genome, tiny_model):
    """A run of 3 short regions (600 bp) is far below --min-null-bases: every region is shuffled 8 times, each
    copy a different shuffle, consecutive rows of null.npz, recorded in run.json (before: one 10 % sample, i.e. at
    most one region, and a Laplace fallback)."""
    import json

    from click.testing import CliRunner

    from seqsal.cli import main
    from seqsal.io import npz_members, region_arrays

    genome, _ = small_genome
    model, _ = tiny_model
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\nchr1\t1500\t1700\tb\nchr2\t200\t400\tc\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["attribute", str(genome), str(bed), "--model", str(model), "-o", str(out),
                                       "-q", "--min-null-bases", "4000"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    null = npz_members(out / "null.npz")
    assert null["region_index"].tolist() == [0] * 7 + [1] * 7 + [2] * 7  # ceil(4000 / 600) = 7 shuffles each
    assert int(null["copies"]) == 7
    tracks = region_arrays(out / "null.npz", ("projected", "valid"))["projected"].padded()
    assert all(not np.array_equal(tracks[k], tracks[k + 1]) for k in range(6))  # each copy its own shuffle
    record = json.loads((out / "run.json").read_text())["peaks"]["null_sample"]
    assert record["copies"] == 7 and record["n_regions"] == 3 and record["bases"] == 7 * 600
