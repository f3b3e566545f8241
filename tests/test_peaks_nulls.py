"""seqsal.peaks.nulls: the per-region null sample and the shuffled stretches the null is attributed on."""
import numpy as np
import pandas as pd
import torch

import seqsal
from seqsal.peaks.nulls import null_rows, shuffled_fetch


def test_null_rows_are_chosen_per_region():
    """Each region by a hash of its own: reordering the other regions or dropping some leaves its draw alone."""
    regions = pd.DataFrame({"chrom": ["chr1"] * 400, "start": np.arange(400) * 1000, "end": np.arange(400) * 1000 + 500,
                            "name": [f"r{i}" for i in range(400)]})
    chosen = set(null_rows(regions, 0.1, 0).tolist())
    assert 20 <= len(chosen) <= 60
    part = regions.iloc[150:300].reset_index(drop=True)
    assert {150 + i for i in null_rows(part, 0.1, 0)} == {i for i in chosen if 150 <= i < 300}
    assert set(null_rows(regions, 0.1, 1).tolist()) != chosen


def test_shuffled_fetch_keeps_n_in_place_and_the_letters_of_each_piece():
    """N (and other non-ACGT codes) stay where they are; each stretch between them keeps its letters."""
    rng = np.random.default_rng(4)
    pieces = ["".join(rng.choice(list("ACGT"), n)) for n in (120, 80, 200)]
    genome = pieces[0] + "NNNNN" + pieces[1] + "R" + pieces[2]
    shuffled = shuffled_fetch(lambda chrom, start, end: genome[start:end], seed=3)("chr1", 0, len(genome))
    assert len(shuffled) == len(genome) and shuffled != genome
    assert [i for i, c in enumerate(shuffled) if c == "N"] == [i for i, c in enumerate(genome) if c in "NR"]
    assert sorted(shuffled.replace("N", "")) == sorted(genome.replace("N", "").replace("R", ""))


def _few_region_run(tmp_path, small_genome, tiny_model):
    """`seqsal attribute` of 3 regions of 200 bp at --min-null-bases 4000 (7 shuffles of each); the run folder."""
    from click.testing import CliRunner

    from seqsal.cli import main

    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\nchr1\t1500\t1700\tb\nchr2\t200\t400\tc\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["attribute", str(small_genome[0]), str(bed), "--model", str(tiny_model[0]),
                                       "-o", str(out), "-q", "--min-null-bases", "4000"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_few_region_run_gets_several_shuffles_of_each_region(tmp_path, small_genome, tiny_model):
    """A run of 3 short regions (600 bp) is far below --min-null-bases: every region is shuffled 8 times, each
    copy a different shuffle, consecutive rows of null.npz, recorded in run.json (before: one 10 % sample, i.e. at
    most one region, and a Laplace fallback)."""
    import json

    from seqsal.io import npz_members, region_arrays

    out = _few_region_run(tmp_path, small_genome, tiny_model)
    null = npz_members(out / "null.npz")
    assert null["region_index"].tolist() == [0] * 7 + [1] * 7 + [2] * 7  # ceil(4000 / 600) = 7 shuffles each
    assert int(null["copies"]) == 7
    tracks = region_arrays(out / "null.npz", ("projected", "valid"))["projected"].padded()
    assert all(not np.array_equal(tracks[k], tracks[k + 1]) for k in range(6))  # each copy its own shuffle
    record = json.loads((out / "run.json").read_text())["peaks"]["null_sample"]
    assert record["copies"] == 7 and record["n_regions"] == 3 and record["bases"] == 7 * 600


def test_the_null_rows_motifs_ask_for_are_redrawn_alone_as_the_writer_drew_them(tmp_path, small_genome, tiny_model,
                                                                               monkeypatch):
    """`seqsal motifs` redraws the null's sequences it needs (null.npz keeps none): only those rows are shuffled
    (it shuffled every row, in order, to count which copy came next), each with its row's copy: the model's
    attribution of a redrawn later copy is the row's stored track."""
    import seqsal
    import seqsal.shuffle
    from seqsal.io import npz_members, region_arrays
    from seqsal.motifs.sides import null_one_hot

    out, module = _few_region_run(tmp_path, small_genome, tiny_model), tiny_model[1]
    assert int(npz_members(out / "null.npz")["copies"]) == 7
    shuffled = []
    ragged = seqsal.shuffle.dinucleotide_shuffle_ragged

    def counted(sequences, generators):
        shuffled.extend(sequences)
        return ragged(sequences, generators)

    monkeypatch.setattr(seqsal.shuffle, "dinucleotide_shuffle_ragged", counted)
    rows = np.array([12, 3])  # the 6th copy of region b, the 4th of region a
    redrawn = null_one_hot(out, rows)
    assert len(shuffled) <= 2 * 7  # the two regions' copies, not the 21 rows
    tracks = region_arrays(out / "null.npz", ("projected",))["projected"]
    for k, row in enumerate(rows):
        x = torch.from_numpy(redrawn[k:k + 1])
        attribution = seqsal.attribute(module, x, method="grad_x_input", target=0)
        np.testing.assert_allclose((attribution * x).sum(dim=1)[0].numpy(), tracks[row], rtol=1e-4, atol=1e-6)
    assert not np.array_equal(redrawn[0], null_one_hot(out, np.array([11]))[0])  # another copy, another shuffle


def test_a_few_long_regions_get_a_null_of_the_planned_size():
    """fresh17: the null samples each region with probability `fraction`; one 2-Mb region (or 4 of 600 kb, 10 of
    250 kb) at the default 10 % was sampled in most runs as nothing, or as less than half the planned bases: an
    empty or small null, no call, the log blaming the map's sign. A draw holding less than half the planned bases
    now takes regions in the order of their hash until the plan is met; a draw that holds half is kept as it is."""
    from seqsal.peaks.nulls import _region_keys, _uniform

    def table(n, length):
        return pd.DataFrame({"chrom": "chr1", "start": np.arange(n) * length, "end": np.arange(1, n + 1) * length,
                             "name": [f"r{i}" for i in range(n)]})

    def plain(regions, fraction, seed):  # the per-region draw alone
        return np.flatnonzero([_uniform(f"sample\t{seed}\t{key}") < fraction for key in _region_keys(regions)])

    short_before = 0
    for seed in range(20):
        for regions in (table(1, 2_000_000), table(10, 250_000), table(4, 600_000)):
            lengths = (regions["end"] - regions["start"]).to_numpy()
            planned = 0.1 * lengths.sum()
            before = plain(regions, 0.1, seed)
            short_before += lengths[before].sum() < 0.5 * planned
            chosen = null_rows(regions, 0.1, seed)
            assert lengths[chosen].sum() >= planned or np.array_equal(chosen, before), (seed, len(regions))
            assert set(before) <= set(chosen) and np.all(np.diff(chosen) > 0)
            # no more than needed: without its last region (in hash order) the draw would fall short of the plan
            if lengths[before].sum() < 0.5 * planned:
                assert len(chosen) == len(before) or lengths[chosen].sum() - lengths[chosen].min() < planned
    assert short_before > 20  # the case is common, not contrived
    # a 2-Mb region among 1,000 of 300 bp (fresh20): the top-up passes over it rather than take 9x the plan
    mixed = pd.DataFrame({"chrom": "chr1", "start": np.r_[0, 2_000_000 + np.arange(1000) * 300],
                          "end": np.r_[2_000_000, 2_000_300 + np.arange(1000) * 300],
                          "name": [f"r{i}" for i in range(1001)]})
    lengths, topped = (mixed["end"] - mixed["start"]).to_numpy(), 0
    planned = 0.1 * lengths.sum()
    for seed in range(20):
        before, chosen = plain(mixed, 0.1, seed), null_rows(mixed, 0.1, seed)
        if lengths[before].sum() < 0.5 * planned:
            topped += 1
            assert planned <= lengths[chosen].sum() <= 2 * planned and 0 not in set(chosen) - set(before)
    assert topped >= 10
    many = table(500, 500)
    for seed in range(5):
        assert np.array_equal(null_rows(many, 0.4, seed), plain(many, 0.4, seed))
    assert np.array_equal(null_rows(many, 1.0, 0), np.arange(500))


def test_long_regions_are_sampled_in_pieces_of_at_least_the_window():
    """A region longer than the piece (10 kb, or the window if longer) is cut into consecutive pieces, a rest
    shorter than the window joined to the piece before; a shorter region is one piece, itself, so a run of short
    regions draws the rows (and keys) it drew before pieces."""
    from seqsal.peaks.nulls import null_pieces, piece_length

    regions = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2", "chr2", "chr3"], "start": [0, 50_000, 100, 0, 0],
                            "end": [500, 75_100, 10_100, 30_000, 20_150], "name": list("abcde"), "strand": "+"})

    def spans(window):
        pieces = null_pieces(regions, window)
        assert (pieces["name"] == regions["name"].to_numpy()[pieces["region_index"]]).all()
        return pieces["region_index"].tolist(), list(zip(pieces["start"].tolist(), pieces["end"].tolist()))

    assert piece_length(200) == 10_000 and piece_length(12_000) == 12_000 and piece_length(None) is None
    assert spans(200) == ([0, 1, 1, 1, 2, 3, 3, 3, 4, 4], [
        (0, 500), (50_000, 60_000), (60_000, 70_000), (70_000, 75_100), (100, 10_100), (0, 10_000),
        (10_000, 20_000), (20_000, 30_000), (0, 10_000), (10_000, 20_150)])  # e's 150-bp rest joins its piece
    assert spans(7_000)[1][1:3] == [(50_000, 60_000), (60_000, 75_100)]  # b's rest (5,100 bp) < the window
    assert spans(12_000)[1][1:3] == [(50_000, 62_000), (62_000, 75_100)]  # pieces of the window
    # review25: a window-less model reads each region whole (a length-averaging one scales with it), so its
    # null rows are whole regions; 10-kb pieces of a 40-kb region gave a null 4x the observed scale
    assert spans(None) == (list(range(5)), list(zip(regions["start"], regions["end"])))
    short = pd.DataFrame({"chrom": "chr1", "start": np.arange(300) * 1000, "end": np.arange(300) * 1000 + 600,
                          "name": [f"r{i}" for i in range(300)]})
    assert np.array_equal(null_rows(null_pieces(short, 500), 0.1, 3), null_rows(short, 0.1, 3))
    pd.testing.assert_frame_equal(null_pieces(short, 500).drop(columns="region_index"), short)


def test_one_long_region_gets_a_null_of_its_plan_in_pieces(tmp_path, tiny_model):
    """One 200-kb region at --null-fraction 0.1 (a 20-kb plan): the null samples pieces of it (the draw of the
    whole region took all 200 kb, 10x the plan and as much model work as the run), each row of null.npz a piece
    inside the region, run.json counting bases, pieces and the one region. The run's null is its own although no
    row is its region; a piece moved out of the region is another run's null, refused. `seqsal motifs` redraws a
    piece's shuffle as the writer drew it."""
    import json

    from click.testing import CliRunner

    from seqsal.cli import main
    from seqsal.io import npz_members, region_arrays, write_npz
    from seqsal.motifs.sides import null_one_hot
    from seqsal.peaks import run_null_problem
    from seqsal.tables import read_region_coordinates

    rng = np.random.default_rng(0)
    genome = tmp_path / "g.fa"
    genome.write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 210_000)) + "\n")
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t5000\t205000\tlong\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["attribute", str(genome), str(bed), "--model", str(tiny_model[0]), "-o",
                                       str(out), "-q", "--null-fraction", "0.1", "--min-null-bases", "1"])
    assert result.exit_code == 0, result.output
    sample = json.loads((out / "run.json").read_text())["peaks"]["null_sample"]
    assert 10_000 <= sample["bases"] <= 40_000 and sample["n_regions"] == 1, sample  # [0.5, 2] x the plan
    null = npz_members(out / "null.npz")
    keys = [str(key).split("\t") for key in null["region_key"]]
    assert sample["n_pieces"] == len(keys) >= 1 and set(null["region_index"].tolist()) == {0}
    assert all(chrom == "chr1" and 5000 <= int(start) < int(end) <= 205_000 and name == "long"
               for chrom, start, end, name in keys)
    assert null["length"].tolist() == [int(end) - int(start) for _, start, end, _ in keys]
    regions = read_region_coordinates(out / "regions.tsv", names=False)
    assert run_null_problem(out, regions) is None
    members, (_, start, end, _) = dict(null), keys[0]
    size = int(end) - int(start)
    for moved in ((4000, 4000 + size), (206_000 - size, 206_000)):  # the first piece pushed past either end
        members["region_key"] = np.array(["chr1\t%d\t%d\tlong" % moved] + list(null["region_key"][1:]))
        write_npz(out / "null.npz", members)
        assert "not this run's: its row 0 is the shuffle of chr1:%d-%d" % moved in run_null_problem(out, regions)
    members["region_key"] = null["region_key"]
    write_npz(out / "null.npz", members)
    assert run_null_problem(out, regions) is None
    from seqsal.report import RunFolder, calibration_section

    assert f"1 region (long ones in pieces: {sample['n_pieces']} piece" in calibration_section(RunFolder.open(out))
    x = torch.from_numpy(null_one_hot(out, np.array([0]))[:, :, :200])  # the first piece's shuffle, redrawn
    attribution = seqsal.attribute(tiny_model[1], x, method="grad_x_input", target=0)  # its first window (200 bp)
    np.testing.assert_allclose((attribution * x).sum(dim=1)[0, :100].numpy(),  # bases only that window covers
                               region_arrays(out / "null.npz", ("projected",))["projected"][0][:100], rtol=1e-4,
                               atol=1e-6)


def test_no_tests_from_a_null_too_small_is_named_so(tmp_path, small_genome, tiny_model, caplog):
    """A null too small to fit at any width leaves no test: the line says so, not "no valid bases?" (fresh20:
    ``--min-null-bases 0`` on 10 regions)."""
    import logging

    import seqsal
    from seqsal.peaks import PeakOptions
    from seqsal.pipeline import AttributeOptions, run_attribute
    from tests.conftest import write_bed

    bed = write_bed(tmp_path / "r.bed", ["chr1\t100\t300", "chr1\t1500\t1700", "chr2\t200\t400"])
    run_attribute(str(small_genome[0]), str(bed), str(tiny_model[0]), str(tmp_path / "run"), AttributeOptions(),
                  progress=False, peaks=PeakOptions(min_null_bases=0))
    caplog.clear()  # the run's own peak calls said it too
    with caplog.at_level(logging.WARNING, logger="seqsal"):  # the API's log (the CLI's basicConfig drops caplog's)
        calls = seqsal.call_peaks_from_run(tmp_path / "run", write=False)
    assert calls.info["null"] == "shuffle" and calls.info["n_tests"] == 0
    lines = [record.getMessage() for record in caplog.records if "no seqlet passed" in record.getMessage()]
    assert lines == ["no seqlet passed FDR 0.2: no tests (the shuffled null is too small to fit at any width: its "
                     "remedy is given above)"]
