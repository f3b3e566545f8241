from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsal.encode import one_hot_encode, reverse_complement
from seqsal.errors import InputError
from seqsal.io import npz_members
from seqsal.motifs import (
    DiscoveryOptions,
    Motif,
    best_alignment,
    best_matches,
    compare_motifs,
    consensus,
    default_database,
    discover_motifs,
    discovery_seqlets,
    extract_windows,
    format_meme,
    information_content,
    mutual_neighbours,
    read_meme,
    read_seqlet_table,
    reverse_complement_matrix,
    run_motifs,
    trim_bounds,
    write_meme,
)
from seqsal.simulate import random_sequence, sample_site

ROOT = Path(__file__).resolve().parents[1]
JASPAR = ROOT / "data" / "motifs" / "jaspar_subset.meme"


@pytest.fixture(scope="module")
def jaspar():
    return {motif.name: motif for motif in read_meme(JASPAR)}


def planted_run(jaspar, n_regions=240, length=200, seed=0):
    """Regions with Spi1 (positive contribution) and CEBPB sites; REST sites with negative contribution.

    Hypothetical contributions are the centred log-odds of the planted motif at
    its sites plus noise everywhere (what a model that learnt the motif shows).
    Returns one-hot, hypothetical, lengths, the seqlet table and the truth.
    """
    rng = np.random.default_rng(seed)
    plan = [("Spi1", 1.0), ("CEBPB", 0.8), ("REST", -1.0)]
    one_hot = np.zeros((n_regions, 4, length), dtype=np.float32)
    hyp = rng.normal(0, 0.03, size=(n_regions, 4, length)).astype(np.float32)
    seqlets, truth = [], []
    for i in range(n_regions):
        sequence = bytearray(random_sequence(length, rng).tobytes())
        name, weight = plan[i % 3]
        pwm = jaspar[name].pwm
        width = pwm.shape[1]
        start = int(rng.integers(20, length - width - 20))
        site = sample_site(pwm, rng)
        minus = bool(rng.random() < 0.5)
        sequence[start:start + width] = (reverse_complement(site) if minus else site).encode()
        one_hot[i] = one_hot_encode(bytes(sequence))
        log_odds = np.log2((pwm + 0.01) / 0.25)
        log_odds -= log_odds.mean(axis=0, keepdims=True)
        if minus:
            log_odds = reverse_complement_matrix(log_odds)
        hyp[i, :, start:start + width] += weight * 0.3 * log_odds.astype(np.float32)
        jitter = int(rng.integers(-3, 4))
        seqlets.append((i, start + jitter, start + width + jitter, "+" if weight > 0 else "-", weight))
        truth.append((name, i, start, minus))
        if rng.random() < 0.2:  # a spurious noise seqlet
            lo = 150 if start < 100 else 10
            seqlets.append((i, lo, lo + 12, "+", 0.1))
    table = pd.DataFrame(seqlets, columns=["region_index", "offset_start", "offset_end", "sign", "score"])
    return one_hot, hyp, np.full(n_regions, length), table, truth


@pytest.fixture(scope="module")
def planted(jaspar):
    return planted_run(jaspar)


def test_meme_round_trip_through_reader_and_memelite(tmp_path, jaspar):
    from memelite.io import read_meme as memelite_read

    motifs = [Motif("m1", "first", jaspar["CTCF"].pwm, 10), Motif("m2", "second", jaspar["Spi1"].pwm, 5, url="http://x")]
    path = tmp_path / "out.meme"
    write_meme(path, motifs)
    back = read_meme(path)
    assert [(m.identifier, m.name, m.nsites, m.url) for m in back] == [("m1", "first", 10, ""), ("m2", "second", 5, "http://x")]
    for a, b in zip(motifs, back):
        np.testing.assert_allclose(a.pwm, b.pwm, atol=1e-6)
    theirs = memelite_read(str(path))
    assert list(theirs) == ["m1 first", "m2 second"]
    np.testing.assert_allclose(theirs["m1 first"], jaspar["CTCF"].pwm, atol=1e-6)
    assert format_meme(motifs) == path.read_text()


def test_read_meme_errors(tmp_path):
    bad = tmp_path / "bad.meme"
    bad.write_text("MEME version 4\n\nMOTIF a\nletter-probability matrix: alength= 4 w= 2\n0.25 0.25 0.5\n0.1 0.2 0.3 0.4\n")
    with pytest.raises(InputError, match="bad.meme:5: motif a: matrix row has 3 values"):
        read_meme(bad)
    with pytest.raises(InputError, match="not found"):
        read_meme(tmp_path / "missing.meme")


def test_npz_members_maps_stored_arrays_and_loads_compressed(tmp_path):
    from seqsal.io import write_npz

    a = np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5)
    write_npz(tmp_path / "x.npz", {"a": a, "length": np.array([5, 3])})
    members = npz_members(tmp_path / "x.npz")
    assert isinstance(members["a"], np.memmap)
    np.testing.assert_array_equal(members["a"], a)
    np.testing.assert_array_equal(members["length"], [5, 3])
    np.savez_compressed(tmp_path / "y.npz", a=a)
    np.testing.assert_array_equal(npz_members(tmp_path / "y.npz")["a"], a)


def test_extract_windows_pads_past_row_ends_and_reverse_complements():
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    lengths = np.array([6, 4])
    (out,) = extract_windows([x], lengths, np.array([0, 1, 1]), np.array([-2, 2, 1]), 4, rc=np.array([False, False, True]))
    np.testing.assert_array_equal(out[0, :, :2], 0)
    np.testing.assert_array_equal(out[0, :, 2:], x[0, :, :2])
    np.testing.assert_array_equal(out[1, :, :2], x[1, :, 2:4])
    np.testing.assert_array_equal(out[1, :, 2:], 0)  # row 1 is only 4 long
    np.testing.assert_array_equal(out[2], x[1, ::-1, 1:5][:, ::-1] * np.array([1, 1, 1, 0])[None, ::-1])


def test_best_alignment_finds_offset_and_strand():
    rng = np.random.default_rng(3)
    template = rng.normal(size=(1, 4, 8)).astype(np.float32)
    windows = rng.normal(0, 0.05, size=(2, 4, 20)).astype(np.float32)
    windows[0, :, 5:13] += template[0]
    windows[1, :, 9:17] += reverse_complement_matrix(template[0])
    similarity, offset, rc = best_alignment(template, windows)
    assert similarity.min() > 0.95
    assert offset[:, 0].tolist() == [5, 9] and rc[:, 0].tolist() == [False, True]


def test_matrix_helpers():
    pwm = np.array([[0.97, 0.01], [0.01, 0.25], [0.01, 0.25], [0.01, 0.49]])
    assert consensus(pwm) == "At"
    ic = information_content(pwm)
    assert ic[:, 0].sum() == pytest.approx(2 + sum(p * np.log2(p) for p in pwm[:, 0]), abs=1e-9)
    assert trim_bounds(np.array([[0, 1, 5, 0.1, 2, 0]] * 4)) == (2, 5)
    assert trim_bounds(np.array([[0, 1, 5, 0.1, 2, 0]] * 4), pad=1) == (1, 6)


def test_compare_motifs_names_the_right_known_motif(jaspar):
    rng = np.random.default_rng(0)
    database = list(jaspar.values())
    queries = []
    for name in ("CTCF", "Spi1", "CEBPB"):
        pwm = jaspar[name].pwm[:, 1:-1] + rng.random((4, jaspar[name].pwm.shape[1] - 2)) * 0.2
        queries.append(Motif(name, name, reverse_complement_matrix(pwm / pwm.sum(axis=0))))
    queries.append(Motif("random", "random", rng.dirichlet(np.ones(4), size=10).T))
    table = compare_motifs(queries, database)
    assert len(table) == len(queries) * len(database)
    best = best_matches(table, 1).set_index("query")
    for name in ("CTCF", "Spi1", "CEBPB"):
        assert best.loc[name, "target_name"] == name
        assert best.loc[name, "strand"] == "-" and best.loc[name, "offset"] == 1
        assert best.loc[name, "qvalue"] < 1e-4
    assert best.loc["random", "qvalue"] > 0.05
    assert ((table["pvalue"] >= 0) & (table["pvalue"] <= 1) & (table["qvalue"] >= table["pvalue"])).all()


def test_discovery_recovers_planted_motifs_with_the_right_consensus(planted, jaspar):
    one_hot, hyp, lengths, seqlets, _ = planted
    motifs = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=20))
    assert [(m.name, m.sign) for m in motifs] == [("pos_1", "+"), ("pos_2", "+"), ("neg_1", "-")]
    table = compare_motifs([m.to_motif() for m in motifs], list(jaspar.values()))
    best = best_matches(table, 1).set_index("query")
    names = {m.name: best.loc[f"seqsal_{m.name}", "target_name"] for m in motifs}
    assert sorted(names.values()) == ["CEBPB", "REST", "Spi1"]
    for motif in motifs:
        assert best.loc[f"seqsal_{motif.name}", "qvalue"] < 0.01
        truth = consensus(jaspar[names[motif.name]].pwm).upper()
        found = motif.consensus.upper()
        core = found.strip("acgt").upper() if motif.consensus.strip("acgt") else found
        assert core in truth or reverse_complement(core) in truth, (found, truth)
        assert 70 <= motif.n_seqlets <= 80  # 80 planted sites each, noise seqlets left out
        assert motif.cwm.shape == motif.pwm.shape == motif.hypothetical_cwm.shape
        assert np.sign(motif.cwm.sum()) == (1 if motif.sign == "+" else -1)
        np.testing.assert_allclose(motif.pwm.sum(axis=0), 1, atol=1e-9)


def test_discovery_instances_point_at_the_planted_sites(planted):
    one_hot, hyp, lengths, seqlets, truth = planted
    motifs = discover_motifs(one_hot, hyp, lengths, seqlets)
    site = {region: (start, minus) for _, region, start, minus in truth}
    for motif in motifs:
        inst = motif.instances
        starts = inst["region_index"].map(lambda r: site[r][0]).to_numpy()
        minus = inst["region_index"].map(lambda r: site[r][1]).to_numpy()
        inside = (inst["start"].to_numpy() >= starts) & (inst["end"].to_numpy() <= starts + 21)
        assert inside.mean() > 0.95
        # trimmed instances sit at one offset in the site per strand; strands agree with the planted ones
        agree = inst["rc"].to_numpy() == minus
        assert agree.mean() > 0.95 or agree.mean() < 0.05
        assert len(set(inst["start"].to_numpy()[minus] - starts[minus])) <= 2
        assert inst["region_index"].is_unique


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


def check_modisco_h5(path, motifs, one_hot, hyp, tmp_path):
    """motifs.h5 holds every motif and instance in tfmodisco-lite's layout, and modisco-lite's own reader takes it."""
    import h5py
    from modiscolite.io import write_meme_from_h5
    from modiscolite.util import MemeDataType

    with h5py.File(path, "r") as handle:
        assert handle.attrs["window_size"] == one_hot.shape[2]
        for sign, group in (("+", "pos_patterns"), ("-", "neg_patterns")):
            chosen = [m for m in motifs if m.sign == sign]
            assert sorted(handle[group]) == [f"pattern_{i}" for i in range(len(chosen))]
            for i, motif in enumerate(chosen):
                pattern = handle[group][f"pattern_{i}"]
                np.testing.assert_allclose(pattern["sequence"][:], motif.pwm.T, rtol=1e-6)
                np.testing.assert_allclose(pattern["contrib_scores"][:], motif.cwm.T, rtol=1e-5, atol=1e-7)
                seqlets = pattern["seqlets"]
                n, width = motif.n_seqlets, motif.pwm.shape[1]
                assert seqlets["n_seqlets"][0] == n and seqlets["sequence"].shape == (n, width, 4)
                # each instance is the aligned stretch of its row: reverse-complemented when is_revcomp
                k = int(np.argmax(seqlets["is_revcomp"][:])) if seqlets["is_revcomp"][:].any() else 0
                row, start = int(seqlets["example_idx"][k]), int(seqlets["start"][k])
                stretch = one_hot[row, :, start:start + width]
                if seqlets["is_revcomp"][k]:
                    stretch = stretch[::-1, ::-1]
                np.testing.assert_array_equal(seqlets["sequence"][k], stretch.T)
                # the mean aligned instance is the motif (PWM up to the pseudocounts, CWM exactly)
                np.testing.assert_allclose(seqlets["contrib_scores"][:].mean(axis=0), motif.cwm.T, atol=1e-5)
    write_meme_from_h5(str(path), MemeDataType.PFM, str(tmp_path / "from_h5.meme"), True)
    assert len(read_meme(tmp_path / "from_h5.meme")) == len(motifs)


def test_seqlet_table_errors(tmp_path):
    path = tmp_path / "seqlets.tsv"
    path.write_text("region_index\toffset_start\n0\t1\n")
    with pytest.raises(InputError, match="missing column.*offset_end"):
        read_seqlet_table(path)
    path.write_text("region_index\toffset_start\toffset_end\tscore\n0\t5\t9\t-1\n0\t9\t5\t1\n")
    with pytest.raises(InputError, match="seqlets.tsv:3: offset_end must be"):
        read_seqlet_table(path)
    path.write_text("region_index\toffset_start\toffset_end\tscore\n0\t5\t9\t-1\n")
    assert read_seqlet_table(path)["sign"].tolist() == ["-"]


def test_negative_seqlets_next_to_a_stronger_positive_site_give_a_negative_motif():
    """Negative seqlets 4 bp from a 3x stronger positive site: the '-' motif is the negative site's, not the
    positive one that the alignment window also covers (it was, before cores and trims followed the sign)."""
    rng = np.random.default_rng(3)
    n, length = 80, 200
    one_hot = np.zeros((n, 4, length), np.float32)
    one_hot[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    positive, negative = "TGACTCA", "GGTCCAG"
    hyp = rng.normal(0, 0.02, (n, 4, length)).astype(np.float32)
    for row in range(n):
        for motif, start, value in ((negative, 88, -0.3), (positive, 99, 0.9)):
            block = one_hot_encode(motif)
            one_hot[row, :, start:start + 7] = block
            hyp[row, :, start:start + 7] = block * value
    seqlets = pd.DataFrame({"region_index": np.arange(n), "offset_start": 88, "offset_end": 95, "sign": "-"})
    motifs = discover_motifs(one_hot, hyp, np.full(n, length), seqlets, DiscoveryOptions(min_seqlets=10))
    assert len(motifs) == 1
    motif = motifs[0]
    assert motif.sign == "-" and motif.cwm.sum() < 0
    assert negative in consensus(motif.pwm).upper() or reverse_complement(negative) in consensus(motif.pwm).upper()


def test_a_cluster_on_no_consistent_sequence_is_not_a_motif():
    """Seqlets whose hypothetical contributions agree but whose bases are random cluster, yet are not a motif."""
    rng = np.random.default_rng(4)
    n, length = 60, 120
    one_hot = np.zeros((n, 4, length), np.float32)
    one_hot[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)[None, :]] = 1
    pattern = rng.normal(0, 1, (4, 10)).astype(np.float32)
    hyp = rng.normal(0, 0.01, (n, 4, length)).astype(np.float32)
    hyp[:, :, 50:60] += np.abs(pattern)  # the same hypothetical pattern at every seqlet, positive everywhere
    seqlets = pd.DataFrame({"region_index": np.arange(n), "offset_start": 50, "offset_end": 60, "sign": "+"})
    lengths = np.full(n, length)
    assert discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=10)) == []
    kept = discover_motifs(one_hot, hyp, lengths, seqlets, DiscoveryOptions(min_seqlets=10, min_strong_columns=0))
    assert len(kept) == 1 and kept[0].n_seqlets == n


def test_mutual_neighbours_joins_items_that_pick_each_other():
    # 0-1-2 are a tight group; 3 is a hub fairly similar to everything; 4 likes 3 but 3 prefers others
    similarity = np.array([
        [1.0, 0.9, 0.8, 0.6, 0.1],
        [0.9, 1.0, 0.85, 0.6, 0.1],
        [0.8, 0.85, 1.0, 0.6, 0.1],
        [0.6, 0.6, 0.6, 1.0, 0.5],
        [0.1, 0.1, 0.1, 0.5, 1.0],
    ])
    adjacency = mutual_neighbours(similarity, 2)
    assert (adjacency == adjacency.T).all() and not adjacency.diagonal().any()
    assert {tuple(map(int, pair)) for pair in np.argwhere(np.triu(adjacency))} == {(0, 1), (0, 2), (1, 2)}
    assert mutual_neighbours(similarity, 10).sum() == 20  # k past n - 1: everyone is everyone's neighbour
    assert not mutual_neighbours(similarity[:1, :1], 3).any()


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


def test_later_seeding_rounds_find_a_rare_motif_missed_by_the_first_sample(jaspar):
    """40 CTCF seqlets among 3,000: ~4 land in a first seed sample of 300, too few to seed, and they join another
    motif's cluster. A second round seeds on the seqlets no template explains well (unassigned, or cosine < 0.6)
    and finds CTCF, without a fragment of the common motifs."""
    rng = np.random.default_rng(1)
    common = ["GATA1::TAL1", "Spi1", "CEBPB", "FOS::JUN"]
    n, length = 3000, 60
    one_hot = np.zeros((n, 4, length), dtype=np.float32)
    hyp = rng.normal(0, 0.03, size=(n, 4, length)).astype(np.float32)
    rare = set(rng.choice(n, 40, replace=False).tolist())
    rows = []
    for i in range(n):
        sequence = bytearray(random_sequence(length, rng).tobytes())
        name = "CTCF" if i in rare else common[i % 4] if rng.random() < 0.8 else None
        if name is None:
            rows.append((i, 20, 35, "+"))
        else:
            pwm = jaspar[name].pwm
            width = pwm.shape[1]
            start = int(rng.integers(5, length - width - 5))
            minus = bool(rng.random() < 0.5)
            site = sample_site(pwm, rng)
            sequence[start:start + width] = (reverse_complement(site) if minus else site).encode()
            log_odds = np.log2((pwm + 0.01) / 0.25)
            log_odds -= log_odds.mean(axis=0, keepdims=True)
            hyp[i, :, start:start + width] += 0.3 * (reverse_complement_matrix(log_odds) if minus else log_odds)
            rows.append((i, start, start + width, "+"))
        one_hot[i] = one_hot_encode(bytes(sequence))
    seqlets = pd.DataFrame(rows, columns=["region_index", "offset_start", "offset_end", "sign"])

    def found(rounds):
        motifs = discover_motifs(one_hot, hyp, np.full(n, length), seqlets,
                                 DiscoveryOptions(max_seed_seqlets=300, seed_rounds=rounds))
        best = best_matches(compare_motifs([m.to_motif() for m in motifs], list(jaspar.values())), 1)
        best = best.set_index("query")
        named = {best.loc[f"seqsal_{m.name}", "target_name"]: m for m in motifs
                 if best.loc[f"seqsal_{m.name}", "qvalue"] < 0.05}
        return named, len(best)

    named, _ = found(1)
    assert "CTCF" not in named and set(named) == set(common)
    named, n_motifs = found(3)
    assert set(named) == {*common, "CTCF"} and n_motifs == 5  # all five, nothing spurious or twice
    ctcf = named["CTCF"]
    assert set(ctcf.instances["region_index"]) <= rare and ctcf.n_seqlets >= 36
