"""Peak caller (issue 3): planted blocks, calibration on noise, invalid bases, narrowPeak files, re-calling."""
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import seqsal
from seqsal.cli import main
from seqsal.peaks import (
    NullModel,
    PeakOptions,
    benjamini_hochberg,
    call_peaks_from_run,
    find_candidates,
    null_sample,
    sliding_max,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"


def noise(rng, shape, scale=0.1):
    """Laplace noise smoothed over 3 bp (attributions are correlated along the sequence)."""
    raw = rng.laplace(scale=scale, size=(shape[0], shape[1] + 2))
    return ((raw[:, :-2] + raw[:, 1:-1] + raw[:, 2:]) / np.sqrt(3)).astype(np.float32)


def planted(rng, n=40, length=800):
    track = noise(rng, (n, length))
    blocks = []
    for row in range(n):
        for k, position in enumerate(rng.choice(np.arange(50, length - 80, 120), size=2, replace=False)):
            sign = 1 if (row + k) % 3 else -1
            width = int(rng.integers(8, 16))
            track[row, position:position + width] += sign * 0.5
            summit = position + width // 2
            track[row, summit] += sign * 1.2
            blocks.append((row, int(position), int(position) + width, sign, summit))
    return track, blocks


def test_sliding_max_matches_brute_force():
    values = np.random.default_rng(0).normal(size=(3, 41))
    for width in (1, 2, 5, 9, 41):
        expected = np.array([[row[i:i + width].max() for i in range(41 - width + 1)] for row in values])
        np.testing.assert_array_equal(sliding_max(values, width), expected)


def test_benjamini_hochberg_matches_definition():
    p = np.random.default_rng(1).uniform(size=50) ** 3
    q = benjamini_hochberg(p)
    m = len(p)
    expected = np.array([min(1.0, min(m * p[j] / (np.sum(p <= p[j])) for j in range(m) if p[j] >= p[i]))
                         for i in range(m)])
    np.testing.assert_allclose(q, expected)


def test_benjamini_hochberg_on_the_kept_pvalues_is_exact_below_the_threshold():
    """The caller keeps only p <= fdr while streaming: every q-value <= fdr must be the full set's, bit for bit."""
    rng = np.random.default_rng(4)
    for fdr in (0.01, 0.05, 0.2):
        p = np.concatenate([rng.uniform(size=3000), rng.uniform(0, 1e-4, size=40), np.full(5, fdr)])
        rng.shuffle(p)
        full = benjamini_hochberg(p)
        kept = p <= fdr
        part = benjamini_hochberg(p[kept], n_tests=len(p))
        assert np.array_equal(full[kept] <= fdr, part <= fdr)
        np.testing.assert_array_equal(part[part <= fdr], full[kept][part <= fdr])
        assert (full[~kept] > fdr).all()


def test_laplace_null_from_streamed_order_statistics_is_exact():
    """The Laplace null is fitted from exact order statistics (two passes), not from a held array of all tests."""
    from seqsal.peaks import TestStream, _array_chunks, _iter_candidates, _laplace_nulls

    for seed in range(20):
        rng = np.random.default_rng(seed)
        track = (rng.laplace(size=(int(rng.integers(1, 20)), int(rng.integers(30, 600)))) * 0.3).astype(np.float32)
        if seed % 2:
            track = np.round(track, 1)  # many ties
        source = _array_chunks(track, np.ones(track.shape, bool))
        tests = TestStream(source, 6, limit=None if seed % 3 else 0)  # held between passes, or recomputed
        models = _laplace_nulls(tests, PeakOptions(null="laplace", min_null_candidates=3))
        assert tests.held == bool(seed % 3)
        for sign in (1, -1):
            scores = np.concatenate([s for g, _, _, s in _iter_candidates(source, 6) if g == sign])
            expected = NullModel.laplace(scores, 3)
            got = models[sign]
            assert (got.kind, got.n, got.location, got.scale) == (expected.kind, expected.n, expected.location,
                                                                 expected.scale)


def test_shuffled_null_sample_is_bounded_and_keeps_the_distribution():
    """Past its limit the null's statistics are a uniform random sample (memory bounded however many regions the
    null covers): the same p-values within sampling error, the sample's origin recorded."""
    from seqsal.peaks import _array_chunks, _null_scores, call_source

    rng = np.random.default_rng(5)
    track = (rng.laplace(size=(40, 2000)) * 0.3).astype(np.float32)
    source = _array_chunks(track, np.ones(track.shape, bool))
    full, total = _null_scores(source, 6)
    sampled, sampled_total = _null_scores(source, 6, limit=2000, seed=1)
    assert sampled_total == total and all(full[sign].shape[0] == total[sign] for sign in (1, -1))
    for sign in (1, -1):
        assert 1000 <= sampled[sign].shape[0] <= 2000 < total[sign]
        assert np.isin(sampled[sign], full[sign]).all()
        exact, approx = NullModel.empirical(full[sign], 50), NullModel.empirical(sampled[sign], 50)
        grid = np.quantile(full[sign], [0.5, 0.75, 0.9, 0.97])
        np.testing.assert_allclose(approx.pvalues(grid), exact.pvalues(grid), atol=0.03)
    again, _ = _null_scores(source, 6, limit=2000, seed=1)
    assert all(np.array_equal(again[sign], sampled[sign]) for sign in (1, -1))  # deterministic for a seed
    valid = np.ones((20, 2000), bool)
    calls = call_source(_array_chunks(track[:20], valid), PeakOptions(), _array_chunks(track[20:], valid))
    assert calls.info["null"] == "shuffle" and "sampled_from" not in calls.info["null_model"]["+"]  # used whole


def test_candidates_do_not_overlap_and_skip_invalid_windows():
    rng = np.random.default_rng(2)
    track = noise(rng, (5, 300))
    valid = np.ones_like(track, bool)
    valid[2, 100:150] = False
    rows, starts, scores = find_candidates(track, valid, 1, 10)
    assert (scores > 0).all()
    for row in range(5):
        s = np.sort(starts[rows == row])
        assert (np.diff(s) >= 10).all()
    bad = starts[rows == 2]
    assert not ((bad + 10 > 100) & (bad < 150)).any()


@pytest.mark.parametrize("use_null", [True, False])
def test_finds_planted_blocks_with_sign_and_summit(use_null):
    rng = np.random.default_rng(3)
    track, blocks = planted(rng)
    null = noise(np.random.default_rng(4), (20, 800)) if use_null else None
    calls = seqsal.call_peaks(track, null_track=null, fdr=0.05)
    assert calls.attrs["peaks"]["null"] == ("shuffle" if use_null else "laplace")
    found = 0
    for row, start, end, sign, summit in blocks:
        hits = calls[(calls.region_index == row) & (calls.offset_start < end) & (calls.offset_end > start)]
        if len(hits):
            found += 1
            best = hits.iloc[0]
            assert best["sign"] == ("+" if sign > 0 else "-")
            assert best["summit_offset"] == summit
            assert best["offset_start"] <= summit < best["offset_end"]
            assert 5 <= best["offset_end"] - best["offset_start"] <= 30
    assert found >= 0.95 * len(blocks)
    false = sum(not any(r == row and s < e2 and e > s2 for row, s2, e2, _, _ in blocks)
                for r, s, e in zip(calls.region_index, calls.offset_start, calls.offset_end))
    assert false <= 0.1 * len(calls)
    assert ((calls.pvalue > 0) & (calls.pvalue <= 1) & (calls.qvalue >= calls.pvalue) & (calls.qvalue <= 0.05)).all()
    assert np.sign(calls.score).map({1.0: "+", -1.0: "-"}).tolist() == calls.sign.tolist()


@pytest.mark.parametrize("use_null", [True, False])
def test_false_call_rate_on_pure_noise_is_at_most_nominal(use_null):
    fdr, seeds = 0.1, 60
    with_calls = 0
    for seed in range(seeds):
        rng = np.random.default_rng(100 + seed)
        track = noise(rng, (8, 500))
        null = noise(rng, (8, 500)) if use_null else None
        calls = seqsal.call_peaks(track, null_track=null, fdr=fdr)
        with_calls += len(calls) > 0
    # under the global null every call is false: BH bounds P(any call) by the FDR
    assert with_calls / seeds <= fdr


def test_no_calls_in_n_stretches_or_padding():
    rng = np.random.default_rng(5)
    track = noise(rng, (4, 600))
    track[:, 100:112] += 2.0  # a strong block inside an N stretch
    track[:, 550:560] += 2.0  # and in padding past each row's length
    valid = np.ones_like(track, bool)
    valid[:, 90:130] = False
    calls = seqsal.call_peaks(track, lengths=[540] * 4, valid=valid)
    for level in ("seqlets", "elements"):
        table = seqsal.call_peaks(track, lengths=[540] * 4, valid=valid, level=level)
        assert not ((table.offset_start < 130) & (table.offset_end > 90)).any()
        assert (table.offset_end <= 540).all()
    assert calls.empty or (calls.pvalue > 0).all()


def test_short_sequence_does_not_flood_and_empty_result_is_valid(caplog):
    rng = np.random.default_rng(6)
    short = noise(rng, (1, 120))[0]
    calls = seqsal.call_peaks(short)
    assert len(calls) == 0 and list(calls.columns)[:4] == ["region_index", "offset_start", "offset_end", "sign"]
    assert "too few" in caplog.text
    flat = seqsal.call_peaks(np.zeros(5000, np.float32))
    assert flat.empty


def test_null_model_pvalues_are_in_unit_interval():
    rng = np.random.default_rng(7)
    null = NullModel.empirical(rng.exponential(size=500), 50)
    scores = np.array([-5.0, 0.0, 0.5, 3.0, 10.0, 100.0, 1e6])
    for model in (null, NullModel.laplace(rng.exponential(size=500), 50)):
        p = model.pvalues(scores)
        assert ((p > 0) & (p <= 1)).all() and (np.diff(p) <= 0).all()
    assert (NullModel.empirical(np.ones(10), 50).pvalues(scores) == 1).all()


def test_null_sample_is_chosen_per_region():
    regions = pd.DataFrame({"chrom": ["chr1"] * 400, "start": np.arange(400) * 1000, "end": np.arange(400) * 1000 + 500,
                            "name": [f"r{i}" for i in range(400)]})
    chosen = set(null_sample(regions, 0.1, 0).tolist())
    assert 20 <= len(chosen) <= 60
    shard = regions.iloc[150:300].reset_index(drop=True)  # a shard sees a slice of the same regions
    assert {150 + i for i in null_sample(shard, 0.1, 0)} == {i for i in chosen if 150 <= i < 300}
    assert set(null_sample(regions, 0.1, 1).tolist()) != chosen


def read_narrowpeak(path, chrom_sizes):
    text = Path(path).read_text()
    rows = [line.split("\t") for line in text.splitlines()]
    previous = None
    for fields in rows:
        assert len(fields) == 10
        chrom, start, end, score, peak = fields[0], int(fields[1]), int(fields[2]), int(fields[4]), int(fields[9])
        assert 0 <= start < end <= chrom_sizes[chrom]
        assert 0 <= score <= 1000 and fields[5] == "."
        assert float(fields[7]) >= 0 and float(fields[8]) >= 0 and 0 <= peak < end - start
        key = (chrom.encode(), start, end)
        assert previous is None or previous <= key
        previous = key
    return rows


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo model on 85 demo regions (the last runs past the end of chr3) with a 50 % null sample, FDR 0.2."""
    folder = tmp_path_factory.mktemp("peaks")
    lines = [line for line in (DEMO / "regions.bed").read_text().splitlines() if not line.startswith("track")]
    bed = folder / "regions.bed"
    bed.write_text("\n".join(lines[:80] + lines[-5:]) + "\n")
    out = folder / "out"
    result = CliRunner().invoke(main, ["attribute", str(DEMO / "genome.fa"), str(bed), "--model",
                                       str(DEMO / "model.safetensors"), "-o", str(out), "--quiet",
                                       "--null-fraction", "0.5", "--fdr", "0.2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_duplicate_of_keeps_the_most_significant_call_of_a_site():
    from seqsal.peaks import duplicate_of

    table = pd.DataFrame({
        "chrom": ["chr1", "chr1", "chr1", "chr2", "chr1"], "start": [10, 15, 12, 10, 24], "end": [20, 25, 18, 20, 30],
        "sign": ["+", "+", "-", "+", "+"], "pvalue": [0.01, 0.001, 0.01, 0.01, 0.0001], "region_index": [0, 1, 1, 2, 3],
    })
    # E (row 4, best) is kept; B (row 1) overlaps it: a repeat of E; A (row 0) overlaps only B, which is not
    # reported, so A is kept; C has the other sign, D another chromosome
    assert duplicate_of(table).tolist() == [-1, 4, -1, -1, -1]
    tie = pd.DataFrame({"chrom": ["chr1"] * 2, "start": [5, 5], "end": [9, 9], "sign": ["+"] * 2, "pvalue": [0.1] * 2,
                        "region_index": [7, 3]})
    assert duplicate_of(tie).tolist() == [1, -1]  # equal p: the lower region index is kept
    assert duplicate_of(table.iloc[:0]).shape == (0,)


def test_overlapping_regions_report_each_site_once_in_the_bed(tmp_path):
    """The same 30 demo regions twice (copies named *_copy): every call is in seqlets.tsv twice, marked
    duplicate_of on the copy, and once in seqlets.bed; motif discovery reads each site once."""
    from seqsal.motifs import read_seqlet_table

    lines = [line for line in (DEMO / "regions.bed").read_text().splitlines() if not line.startswith("track")][:30]
    copies = ["\t".join([*fields[:3], fields[3] + "_copy", *fields[4:]]) for fields in (line.split("\t") for line in lines)]
    bed = tmp_path / "twice.bed"
    bed.write_text("\n".join(lines + copies) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["attribute", str(DEMO / "genome.fa"), str(bed), "--model",
                                       str(DEMO / "model.safetensors"), "-o", str(out), "--quiet", "--null", "laplace",
                                       "--fdr", "0.2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    for level in ("seqlets", "elements"):
        table = pd.read_csv(out / f"{level}.tsv", sep="\t", keep_default_na=False)
        bed_rows = (out / f"{level}.bed").read_text().splitlines()
        repeats = table[table["duplicate_of"] != ""]
        assert len(table) >= 10 and len(repeats) * 2 == len(table) and len(bed_rows) == len(table) // 2
        assert repeats["region_name"].str.endswith("_copy").all()
        kept = table.set_index("name").loc[repeats["duplicate_of"]]
        assert (kept[["chrom", "start", "end", "sign"]].to_numpy() == repeats[["chrom", "start", "end", "sign"]]
                .to_numpy()).all()
        assert {row.split("\t")[3] for row in bed_rows} == set(table.loc[table["duplicate_of"] == "", "name"])
    seqlets = pd.read_csv(out / "seqlets.tsv", sep="\t", keep_default_na=False)
    assert len(read_seqlet_table(out / "seqlets.tsv")) == (seqlets["duplicate_of"] == "").sum()
    from seqsal.peaks import describe_calls

    record = json.loads((out / "run.json").read_text())["peaks"]
    assert record["repeats"]["seqlets"] == len(seqlets) // 2
    assert f"{len(seqlets) // 2} seqlets and" in describe_calls(record, 0.2) and "repeat a site" in describe_calls(
        record, 0.2)


def test_attribute_writes_valid_peak_files(demo_run):
    out = demo_run
    sizes = {line.split("\t")[0]: int(line.split("\t")[1]) for line in (DEMO / "genome.fa.fai").read_text().splitlines()}
    for name in ("seqlets.bed", "elements.bed", "seqlets.tsv", "elements.tsv", "null.npz"):
        assert (out / name).exists()
    seqlet_rows = read_narrowpeak(out / "seqlets.bed", sizes)
    read_narrowpeak(out / "elements.bed", sizes)
    assert len(seqlet_rows) > 10
    record = json.loads((out / "run.json").read_text())
    assert record["peaks"]["null"] == "shuffle" and record["peaks"]["null_sample"]["n_regions"] > 0
    table = pd.read_csv(out / "seqlets.tsv", sep="\t")
    for column in ("name", "region_index", "region_name", "chrom", "start", "end", "offset_start", "offset_end",
                   "sign", "score", "pvalue", "qvalue", "summit", "rank", "sequence"):
        assert column in table
    regions = pd.read_csv(out / "regions.tsv", sep="\t")
    data = np.load(out / "attributions.npz")
    for row in table.itertuples():
        region = regions.iloc[row.region_index]
        assert row.start == region.start + row.offset_start and row.end == region.start + row.offset_end
        one_hot = data["one_hot"][row.region_index][:, row.offset_start:row.offset_end]
        assert row.sequence == seqsal.one_hot_decode(one_hot) and "N" not in row.sequence
        track = (data["hypothetical"][row.region_index] * data["one_hot"][row.region_index]).sum(0)
        assert row.score == pytest.approx(track[row.offset_start:row.offset_end].sum(), rel=1e-5, abs=1e-6)
        assert (row.score > 0) == (row.sign == "+")
        assert row.start <= row.summit < row.end


def test_recall_from_folder_gives_the_same_calls(demo_run, tmp_path):
    out = demo_run
    before = {name: (out / name).read_bytes() for name in ("seqlets.bed", "elements.bed", "seqlets.tsv",
                                                            "elements.tsv")}
    runner = CliRunner()
    assert runner.invoke(main, ["call-peaks", str(out), "--fdr", "0.05", "-q"]).exit_code == 0
    assert (out / "seqlets.tsv").read_bytes() != before["seqlets.tsv"]
    assert json.loads((out / "run.json").read_text())["peaks"]["fdr"] == 0.05
    assert runner.invoke(main, ["call-peaks", str(out), "--fdr", "0.2", "-q"]).exit_code == 0
    for name, content in before.items():
        assert (out / name).read_bytes() == content, name
    laplace = call_peaks_from_run(out, null="laplace", write=False)
    assert laplace.info["null"] == "laplace"


def test_threshold_that_passes_nothing_writes_empty_files(demo_run, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("attributions.npz", "attributions.bw", "regions.tsv", "run.json", "null.npz"):
        os.link(demo_run / name, copy / name)
    result = CliRunner().invoke(main, ["call-peaks", str(copy), "--fdr", "1e-30"])
    assert result.exit_code == 0
    assert (copy / "seqlets.bed").read_text() == "" and (copy / "elements.bed").read_text() == ""
    assert pd.read_csv(copy / "seqlets.tsv", sep="\t").empty
    assert "no seqlet passed" in result.output


def test_no_peaks_and_missing_null(demo_run, tmp_path, small_genome, tiny_model):
    genome, _ = small_genome
    model, _ = tiny_model
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\t0\t+\n")
    out = tmp_path / "np"
    runner = CliRunner()
    result = runner.invoke(main, ["attribute", str(genome), str(bed), "--model", str(model), "-o", str(out), "-q",
                                  "--no-peaks"])
    assert result.exit_code == 0, result.output
    assert not any((out / name).exists() for name in ("seqlets.bed", "elements.bed", "null.npz"))
    result = runner.invoke(main, ["call-peaks", str(out), "--null", "shuffle"])
    assert result.exit_code == 2 and "null.npz" in result.output
    assert runner.invoke(main, ["call-peaks", str(out), "--fdr", "2"]).exit_code == 2
    assert PeakOptions().check().null == "shuffle"


def test_element_score_has_the_sign_of_its_seqlets():
    """A '-' element next to a strong '+' site: its flanks hold more positive than negative attribution."""
    rng = np.random.default_rng(11)
    track = noise(rng, (30, 600), scale=0.05)
    track[:, 300:312] -= 0.6
    track[:, 316:330] += 2.0
    elements = seqsal.call_peaks(track, level="elements", null_track=noise(rng, (30, 600), scale=0.05))
    negative = elements[elements.sign == "-"]
    assert len(negative) and len(elements[elements.sign == "+"])
    assert any(((track[r, a:b].sum() > 0) for r, a, b in zip(negative.region_index, negative.offset_start,
                                                              negative.offset_end)))  # the case of the bug
    assert (np.sign(elements.score).map({1.0: "+", -1.0: "-"}) == elements.sign).all()


def test_overlapping_windows_of_one_site_make_one_seqlet():
    rng = np.random.default_rng(12)
    track = noise(rng, (40, 500), scale=0.05)
    track[:, 200:221] += 0.8  # a 21-bp site holds three 6-bp windows
    calls = seqsal.call_peaks(track, null_track=noise(rng, (40, 500), scale=0.05))
    at_site = calls[(calls.offset_start < 221) & (calls.offset_end > 200)]
    assert at_site.groupby("region_index").size().max() == 1 and at_site.region_index.nunique() == 40
    overlap = np.minimum(at_site.offset_end, 221) - np.maximum(at_site.offset_start, 200)
    assert (overlap >= 0.5 * 21).all() and (overlap >= 0.5 * (at_site.offset_end - at_site.offset_start)).all()


def test_motifs_recall_lenient_seqlets_from_the_tracks(demo_run, tmp_path):
    """`seqsal motifs` clusters seqlets re-called at --seqlet-fdr (Laplace null) without touching the run's calls."""
    import click

    from seqsal.motifs import DISCOVERY_FDR, discovery_seqlets

    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("attributions.npz", "attributions.bw", "regions.tsv", "run.json", "seqlets.tsv"):
        os.link(demo_run / name, copy / name)
    before = (copy / "seqlets.tsv").read_bytes()
    strict = pd.read_csv(copy / "seqlets.tsv", sep="\t")
    lenient = discovery_seqlets(copy, 0.7)
    assert len(lenient) > len(strict) and set(lenient["sign"]) <= {"+", "-"}
    assert list(lenient.columns[:3]) == ["name", "region_index", "region_name"]
    assert len(discovery_seqlets(copy, 0.2)) < len(lenient)
    result = CliRunner().invoke(main, ["motifs", str(copy), "--database", "none", "--min-seqlets", "5"])
    assert result.exit_code == 0, result.output
    assert f"re-called from the tracks at FDR {DISCOVERY_FDR:g}" in result.output
    instances = pd.read_csv(copy / "motif_instances.tsv", sep="\t")
    motifs = pd.read_csv(copy / "motifs.tsv", sep="\t")
    assert len(motifs) >= 1 and len(instances) == motifs["n_seqlets"].sum()
    assert (copy / "seqlets.tsv").read_bytes() == before
    option = next(p for p in main.commands["motifs"].params if p.name == "seqlet_fdr")
    assert option.default == DISCOVERY_FDR and isinstance(option.type, click.FloatRange)
    assert CliRunner().invoke(main, ["motifs", str(copy), "--seqlet-fdr", "0"]).exit_code == 2


def test_calls_are_the_same_whether_tests_are_held_or_recomputed(monkeypatch):
    """Between passes the caller keeps the tests while they fit (_TESTS_HELD), else recomputes them: same calls."""
    import seqsal.peaks as peaks

    rng = np.random.default_rng(5)
    track = noise(rng, (40, 700), scale=0.1)
    track[:, 300:312] += 0.8
    track[::3, 500:512] -= 0.7
    track[4, 100:160] = np.nan  # an N stretch
    held = {level: seqsal.call_peaks(track, fdr=0.1, level=level) for level in ("seqlets", "elements")}
    monkeypatch.setattr(peaks, "_TESTS_HELD", 0)
    for level, frame in held.items():
        assert len(frame) > 10
        pd.testing.assert_frame_equal(seqsal.call_peaks(track, fdr=0.1, level=level), frame)


@pytest.mark.parametrize("dyadic", [True, False])
def test_long_rows_cut_into_blocks_give_the_same_tests(dyadic):
    """block_tests cuts rows longer than a block of window starts; the tests equal those of the whole row."""
    from seqsal.peaks import block_tests

    rng = np.random.default_rng(8)
    track = noise(rng, (2, 5000), scale=0.2)
    if dyadic:  # exactly representable sums: many exact ties, resolved the same way in every block
        track = np.round(track * 8) / 8
    valid = np.ones(track.shape, bool)
    valid[0, 1000:1040] = False
    valid[1, 4990:] = False
    whole = list(block_tests(track, valid, 6, block=10**9))
    for block in (37, 500, 4994):
        cut = list(block_tests(track, valid, 6, block=block))
        for sign in (1, -1):
            a = [np.concatenate([t[k] for t in whole if t[0] == sign]) for k in (1, 2, 3)]
            b = [np.concatenate([t[k] for t in cut if t[0] == sign]) for k in (1, 2, 3)]
            order_a, order_b = np.lexsort((a[1], a[0])), np.lexsort((b[1], b[0]))
            np.testing.assert_array_equal(a[0][order_a], b[0][order_b])
            np.testing.assert_array_equal(a[1][order_a], b[1][order_b])
            np.testing.assert_allclose(a[2][order_a], b[2][order_b], rtol=1e-6)
