"""Ragged run folders (issue 18): per-base arrays stored end to end, never padded to the longest region.

The size bound, the round trip dense <-> ragged, a merge of shards with different longest regions byte-identical
to a single run, the export tfmodisco-lite reads, and older (dense) run folders read as they are.
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import seqsal
from seqsal.cli import main
from seqsal.errors import InputError
from seqsal.io import (LENGTH, OFFSETS, RaggedStream, npz_members, ragged_offsets, region_arrays, write_npz)
from seqsal.motifs import MODISCO_ARRAYS, export_modisco_arrays
from seqsal.peaks import PeakOptions, call_peaks_from_run
from seqsal.pipeline import AttributeOptions, run_attribute
from seqsal.run_checkpoint import array_stores
from seqsal.report import RunFolder
from seqsal.shards import merge_runs
from seqsal.simulate import random_sequence
from helpers import assert_same_file

RUN_KEYS = ("one_hot", "hypothetical")
NULL_KEYS = ("projected", "valid")


def _genome(path, sizes: dict[str, int], seed: int = 3):
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for name, size in sizes.items():
            sequence = random_sequence(size, rng).tobytes().decode()
            handle.write(f">{name}\n" + "".join(sequence[i:i + 80] + "\n" for i in range(0, size, 80)))
    return path


def _dense_copy(source, destination, keys) -> None:
    """``source`` rewritten in the dense layout of earlier seqsal run folders: ``(N, *channels, max length)``, right-padded,
    ``length``, no ``offsets``; the other members as they are."""
    arrays = region_arrays(source, keys)
    members = {key: arrays[key].padded() for key in keys}
    members[LENGTH] = arrays.lengths
    members.update({key: np.asarray(value) for key, value in arrays.small.items()
                    if key not in (LENGTH, OFFSETS, "attributions_key")})  # a null's key: newer than that layout
    write_npz(destination, members)


def _job(tmp_path, model, n_short: int, long: int) -> tuple[str, str, str, object]:
    """``n_short`` regions of 500 bp with one of ``long`` bp in the middle, attributed with the tiny 200-bp model."""
    genome = _genome(tmp_path / "genome.fa", {"chr1": long + 1000, "chr2": 550 * n_short + 1000})
    lines = [f"chr2\t{500 + 550 * i}\t{1000 + 550 * i}\tr{i}" for i in range(n_short)]
    lines.insert(n_short // 2, f"chr1\t500\t{500 + long}\tlong")
    bed = tmp_path / "regions.bed"
    bed.write_text("\n".join(lines) + "\n")
    return str(genome), str(bed), str(model), tmp_path


@pytest.fixture()
def long_and_short(tmp_path, tiny_model):
    """100 regions of 500 bp and one of 100 kb (the issue's case)."""
    return _job(tmp_path, tiny_model[0], 100, 100_000)


def test_size_of_100_short_regions_and_one_of_100kb_is_within_twice_the_content(long_and_short):
    genome, bed, model, tmp_path = long_and_short
    out = tmp_path / "run"
    # a null of 30 kb, not the default 200 kb: the size bounds are the same, at a fifth of the model work
    record = run_attribute(genome, bed, model, str(out), AttributeOptions(batch_size=16), progress=False,
                           peaks=PeakOptions(min_null_bases=30_000))
    assert record["npz_format"] == 2 and record["npz_layout"].startswith("ragged")
    bases = 100 * 500 + 100_000
    content = bases * 4 * 4 * 2  # one-hot and hypothetical, 4 float32 channels per base: 4.8 MB
    size = (out / "attributions.npz").stat().st_size
    assert content <= size <= 2 * content, (size, content)
    dense = 101 * 100_000 * 4 * 4 * 2  # what (N, 4, max_length) took: 323 MB
    assert size < dense / 60
    null = region_arrays(out / "null.npz", NULL_KEYS)
    null_content = int(null.lengths.sum()) * (4 + 1)  # float32 track and bool validity per base
    assert null_content > 0 and (out / "null.npz").stat().st_size <= 2 * null_content
    folder = sum(path.stat().st_size for path in out.iterdir() if path.is_file())
    assert folder <= 2 * (content + null_content), (folder, content + null_content)
    arrays = region_arrays(out / "attributions.npz", RUN_KEYS)
    assert arrays.layout == "ragged" and arrays["one_hot"].data.shape == (4, bases)
    assert arrays["one_hot"][50].shape == (4, 100_000) and arrays["hypothetical"][0].shape == (4, 500)
    assert (np.asarray(arrays["one_hot"][50]).sum(axis=0) == 1).all()  # no N in the random genome
    # every reader stays in bounded blocks, whatever the longest region
    for rows, block in arrays.blocks(RUN_KEYS, max_positions=1 << 16):
        assert block["one_hot"].size <= 1 << 16 or rows.shape[0] == 1
        assert block["one_hot"].shape[2] == arrays.lengths[rows].max()


def test_round_trip_dense_to_ragged_to_dense(tmp_path, caplog):
    rng = np.random.default_rng(0)
    lengths = np.array([7, 3, 0, 12, 5])
    dense = np.zeros((5, 4, 12), np.float32)
    for i, length in enumerate(lengths):
        dense[i, :, :length] = rng.normal(size=(4, length))
    write_npz(tmp_path / "dense.npz", {"one_hot": dense, "hypothetical": 2 * dense, LENGTH: lengths})
    old = region_arrays(tmp_path / "dense.npz", RUN_KEYS)
    assert old.layout == "dense"
    stores = [RaggedStream(str(tmp_path / f"{key}.npy"), (4,), lengths) for key in RUN_KEYS]
    for i in (3, 0, 4, 2, 1):  # any order: each region lands at its offset
        for store, key in zip(stores, RUN_KEYS):
            store.write_row(i, old[key][i])
    for store in stores:
        store.close()
    write_npz(tmp_path / "ragged.npz", {key: str(tmp_path / f"{key}.npy") for key in RUN_KEYS}
              | {LENGTH: lengths, OFFSETS: ragged_offsets(lengths)})
    with np.load(tmp_path / "ragged.npz") as plain:  # plain numpy reads it: region i is [:, offsets[i]:offsets[i+1]]
        offsets = plain[OFFSETS]
        assert plain["one_hot"].shape == (4, lengths.sum())
        for i in range(5):
            np.testing.assert_array_equal(plain["one_hot"][:, offsets[i]:offsets[i + 1]], dense[i, :, :lengths[i]])
    new = region_arrays(tmp_path / "ragged.npz", RUN_KEYS)
    assert new.layout == "ragged"
    np.testing.assert_array_equal(new["one_hot"].padded(), dense)
    np.testing.assert_array_equal(new["hypothetical"].padded(np.array([4, 1])), 2 * dense[[4, 1], :, :5])
    for rows, block in new.blocks(RUN_KEYS, max_positions=4 * 12):
        np.testing.assert_array_equal(block["one_hot"], dense[rows][:, :, :block["one_hot"].shape[2]])
    # ragged -> dense again, as tfmodisco-lite reads it: the regions of the longest length are copied whole,
    # the others centred in the row
    (tmp_path / "run").mkdir()
    shutil.copy(tmp_path / "ragged.npz", tmp_path / "run" / "attributions.npz")
    (tmp_path / "run" / "run.json").write_text("{}")  # a finished run's folder holds its record
    pd.DataFrame({"name": [f"r{i}" for i in range(5)], "chrom": "chr1", "start": np.arange(5) * 1000,
                  "end": np.arange(5) * 1000 + lengths, "strand": "+"}).to_csv(tmp_path / "run" / "regions.tsv",
                                                                               sep="\t", index=False)
    done = export_modisco_arrays(tmp_path / "run", tmp_path / "modisco")
    assert done["width"] == 12 and done["n_regions"] == 5
    # fresh27a: modisco motifs -w W keeps each row's central W bases, and its seqlet-bed puts offset j of that
    # window at (peak_start + peak_end) // 2 - W // 2 + j: with modisco_peaks.bed, that is the base the row holds
    peaks = pd.read_csv(tmp_path / "modisco" / "modisco_peaks.bed", sep="\t", header=None)
    exported = np.load(tmp_path / "modisco" / MODISCO_ARRAYS["one_hot"])
    for window in (4, 7, 12):
        for i in (0, 1, 3, 4):
            for j in range(window):
                genome = (peaks[1][i] + peaks[2][i]) // 2 - window // 2 + j
                column = genome - i * 1000  # the base of region i this genome position is
                kept = exported[i, :, 12 // 2 - window // 2 + j]
                assert np.array_equal(kept, dense[i, :, column] if 0 <= column < lengths[i] else np.zeros(4)), (
                    window, i, j)
    ohe = np.load(tmp_path / "modisco" / MODISCO_ARRAYS["one_hot"])
    shap = np.load(tmp_path / "modisco" / MODISCO_ARRAYS["hypothetical"])
    assert ohe.shape == shap.shape == (5, 4, 12) and ohe.dtype == np.float32
    np.testing.assert_array_equal(ohe[3], dense[3])
    np.testing.assert_array_equal(ohe[0, :, 2:9], dense[0, :, :7])  # (12 - 7) // 2 = 2 zeros on the left
    assert not ohe[0, :, :2].any() and not ohe[0, :, 9:].any() and not ohe[2].any()
    np.testing.assert_array_equal(shap, 2 * ohe)
    narrow = export_modisco_arrays(tmp_path / "run", tmp_path / "narrow", width=4)
    assert narrow["width"] == 4
    np.testing.assert_array_equal(np.load(tmp_path / "narrow" / "ohe.npy")[3], dense[3, :, 4:8])  # the centre
    # inside the run folder: written, with a warning (seqsal does not track them; attribute --force leaves them)
    import logging
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        export_modisco_arrays(tmp_path / "run", tmp_path / "run" / "modisco_inputs")
    assert "inside the run folder" in caplog.text and (tmp_path / "run" / "modisco_inputs" / "ohe.npy").exists()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        export_modisco_arrays(tmp_path / "run", tmp_path / "elsewhere")
    assert "inside the run folder" not in caplog.text and "gradcam" not in caplog.text
    # fresh25b: a Grad-CAM run's arrays (one value per position for A/C/G/T) went out as hypothetical contributions
    (tmp_path / "run" / "run.json").write_text('{"method": "gradcam"}')
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        export_modisco_arrays(tmp_path / "run", tmp_path / "gradcam")
    assert "method is gradcam, whose arrays are not hypothetical contributions" in caplog.text


def test_merge_of_shards_with_different_longest_regions_is_byte_identical(tmp_path, tiny_model):
    """Shard 2 holds the 20-kb region, shard 1 only 500-bp ones: the merged folder is the single run's, byte for
    byte, and so are the peak calls made on it. A shard run at another batch size agrees to float32 rounding only
    (CPU kernels may sum in another order for another batch shape: seqsal.batches), and is merged all the same."""
    genome, bed, model, tmp_path = _job(tmp_path, tiny_model[0], 20, 20_000)
    options = PeakOptions(min_null_bases=20_000)
    single = run_attribute(genome, bed, model, str(tmp_path / "single"), AttributeOptions(batch_size=16),
                           progress=False, peaks=options)
    shards = [run_attribute(genome, bed, model, str(tmp_path / f"shard{i}"), AttributeOptions(batch_size=16),
                            progress=False, peaks=options, shard=(i, 2)) for i in (1, 2)]
    assert shards[0]["max_length"] == 500 and shards[1]["max_length"] == 20_000
    merged = merge_runs([tmp_path / "shard2", tmp_path / "shard1"], tmp_path / "merged")
    assert merged["npz_format"] == 2 and merged["max_length"] == single["max_length"]
    for name in ("attributions.npz", "null.npz", "attributions.bw", "regions.tsv"):
        assert_same_file(tmp_path / "merged" / name, tmp_path / "single" / name)
    call_peaks_from_run(tmp_path / "merged")
    for name in ("seqlets.tsv", "elements.tsv", "seqlets.bed"):
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "single" / name).read_bytes(), name
    run_attribute(genome, bed, model, str(tmp_path / "shard2_b5"), AttributeOptions(batch_size=5), progress=False,
                  peaks=options, shard=(2, 2))
    other = merge_runs([tmp_path / "shard2_b5", tmp_path / "shard1"], tmp_path / "merged_b5")
    assert other["n_regions"] == single["n_regions"]
    for name, keys in (("attributions.npz", ("one_hot", "hypothetical")), ("null.npz", ("projected",))):
        ours, theirs = (region_arrays(tmp_path / folder / name, keys) for folder in ("merged_b5", "single"))
        for key in keys:
            np.testing.assert_allclose(ours[key].padded(), theirs[key].padded(), rtol=1e-5, atol=1e-7)


def test_merged_shards_null_is_the_single_runs_when_its_batches_mix_regions(tmp_path, tiny_model):
    """A null of every region shuffled 7 times (a 20-kb region among 500-bp ones, sampled as 2 pieces of 10 kb):
    each shard attributes its rows batched as the single run batches them (the whole job's null rows), so the
    merged null.npz is the single run's byte for byte (before, the shards cut their own batches: its tracks and
    predictions differed in the last bits)."""
    genome, bed, model, tmp_path = _job(tmp_path, tiny_model[0], 20, 20_000)
    options, attribute = PeakOptions(min_null_bases=200_000), AttributeOptions(batch_size=16)
    single = run_attribute(genome, bed, model, str(tmp_path / "single"), attribute, progress=False, peaks=options)
    sample = single["peaks"]["null_sample"]
    assert sample["copies"] == 7 and sample["n_regions"] == 21 and sample["n_pieces"] == 22
    keys = npz_members(tmp_path / "single" / "null.npz")["region_key"].tolist()
    assert keys[70:84] == ["chr1\t500\t10500\tlong"] * 7 + ["chr1\t10500\t20500\tlong"] * 7  # in shard 2
    for i in (1, 2):
        run_attribute(genome, bed, model, str(tmp_path / f"shard{i}"), attribute, progress=False, peaks=options,
                      shard=(i, 2))
    merge_runs([tmp_path / "shard1", tmp_path / "shard2"], tmp_path / "merged")
    for name in ("null.npz", "attributions.npz"):
        assert_same_file(tmp_path / "merged" / name, tmp_path / "single" / name)


@pytest.mark.parametrize("strand", ["+", "-"])
def test_merged_shards_null_is_the_single_runs_when_a_stretch_repeats_at_the_boundary(tmp_path, tiny_model, strand):
    """fresh20: a region repeated (or the same interval on the other strand) next to a shard boundary, 2 shuffles
    of each region, batches of 3: the shard's first batch holds windows of the rows before its span, and when the
    shuffles were picked by counting requests per stretch, the repeat's two shuffles came out swapped. The copy is
    now the row's (its row of the whole null table), and the merged null.npz is the single run's."""
    rng = np.random.default_rng(5)
    genome = tmp_path / "genome.fa"
    genome.write_text(">chr1\n" + "".join(rng.choice(list("ACGT"), 12_000)) + "\n")
    lines = [f"chr1\t{500 + 1000 * i}\t{1100 + 1000 * i}\tr{i}\t0\t+" for i in range(10)]
    lines.insert(5, f"chr1\t4500\t5100\tr4b\t0\t{strand}")  # row 5 repeats row 4's stretch; shard 2 starts here
    bed = tmp_path / "regions.bed"
    bed.write_text("\n".join(lines) + "\n")
    options, attribute = PeakOptions(min_null_bases=12_000), AttributeOptions(batch_size=3)
    single = run_attribute(str(genome), str(bed), str(tiny_model[0]), str(tmp_path / "single"), attribute,
                           progress=False, peaks=options)
    assert single["peaks"]["null_sample"]["copies"] == 2
    for i in (1, 2):
        record = run_attribute(str(genome), str(bed), str(tiny_model[0]), str(tmp_path / f"shard{i}"), attribute,
                               progress=False, peaks=options, shard=(i, 2))
    assert record["shard"]["first"] == 5  # the repeat opens shard 2; its first batch reads row 4's last windows
    merge_runs([tmp_path / "shard1", tmp_path / "shard2"], tmp_path / "merged")
    assert_same_file(tmp_path / "merged" / "null.npz", tmp_path / "single" / "null.npz")


def test_old_dense_run_folders_are_read(small_genome, tiny_model, tmp_path):
    """A run folder of the dense layout (earlier seqsal) gives the same peaks, report windows and merge as the
    ragged one; a merge of dense shards writes the ragged folder of a single run."""
    genome, _ = small_genome
    bed = tmp_path / "regions.bed"
    bed.write_text("chr1\t100\t400\ta\t0\t+\nchr1\t300\t900\tb\t0\t-\nchr2\t50\t250\tc\nchr1\t2000\t2150\td\n")
    run = {}
    for name, shard in (("single", None), ("s1", (1, 2)), ("s2", (2, 2))):
        run_attribute(str(genome), str(bed), str(tiny_model[0]), str(tmp_path / name), AttributeOptions(batch_size=3),
                      progress=False, shard=shard, peaks=PeakOptions(min_null_bases=3000))
        run[name] = tmp_path / name
    for name in ("s1", "s2"):  # the shards as an older seqsal wrote them
        old = tmp_path / f"old_{name}"
        shutil.copytree(run[name], old)
        _dense_copy(run[name] / "attributions.npz", old / "attributions.npz", RUN_KEYS)
        _dense_copy(run[name] / "null.npz", old / "null.npz", NULL_KEYS)
        assert region_arrays(old / "attributions.npz", RUN_KEYS).layout == "dense"
        assert npz_members(old / "attributions.npz", ["one_hot"])["one_hot"].ndim == 3
    merge_runs([tmp_path / "old_s1", tmp_path / "old_s2"], tmp_path / "merged")
    for name in ("attributions.npz", "null.npz", "attributions.bw", "regions.tsv"):
        assert_same_file(tmp_path / "merged" / name, run["single"] / name)
    old = tmp_path / "old_single"
    shutil.copytree(run["single"], old)
    _dense_copy(run["single"] / "attributions.npz", old / "attributions.npz", RUN_KEYS)
    _dense_copy(run["single"] / "null.npz", old / "null.npz", NULL_KEYS)
    assert (old / "attributions.npz").stat().st_size > (run["single"] / "attributions.npz").stat().st_size
    for folder in (old, run["single"]):
        call_peaks_from_run(folder)
    for name in ("seqlets.tsv", "elements.tsv"):
        assert (old / name).read_bytes() == (run["single"] / name).read_bytes(), name
    new_view, old_view = RunFolder.open(run["single"]), RunFolder.open(old)
    for row in range(4):
        assert old_view.length(row) == new_view.length(row)
        for got, expected in zip(old_view.window(row, -5, 170), new_view.window(row, -5, 170)):
            np.testing.assert_array_equal(got, expected)
    result = CliRunner().invoke(main, ["export-modisco", str(old), "-o", str(tmp_path / "x"), "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(np.load(tmp_path / "x" / "shap.npy")[1],
                                  region_arrays(run["single"] / "attributions.npz", RUN_KEYS)["hypothetical"][1])


def test_a_checkpoint_of_the_dense_layout_is_refused_on_resume(tmp_path):
    partial = tmp_path / "out" / ".partial"
    partial.mkdir(parents=True)
    np.save(partial / "one_hot.npy", np.zeros((2, 4, 5), np.float32))  # the dense checkpoint of earlier seqsal
    with pytest.raises(InputError, match="another array layout.*force"):
        array_stores(partial, np.array([5, 3]), resume=True)
    stores = array_stores(partial, np.array([5, 3]), resume=False)
    for store in stores:
        store.close()
    reopened = array_stores(partial, np.array([5, 3]), resume=True)  # its own layout resumes
    for store in reopened:
        store.close()


def test_region_arrays_refuses_members_that_do_not_fit(tmp_path):
    write_npz(tmp_path / "bad.npz", {"one_hot": np.zeros((4, 9), np.float32), "hypothetical": np.zeros((4, 8)),
                                     OFFSETS: np.array([0, 4, 9])})
    with pytest.raises(InputError, match="'hypothetical' \\(4, 8\\) does not fit the 2 regions"):
        region_arrays(tmp_path / "bad.npz", RUN_KEYS)
    with pytest.raises(InputError, match="no array 'valid'"):
        region_arrays(tmp_path / "bad.npz", ("valid",))
    result = CliRunner().invoke(main, ["export-modisco", str(tmp_path), "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and "arrays not found" in result.output
    assert not os.path.exists(tmp_path / "x" / "ohe.npy")


def test_export_modisco_refuses_a_folder_it_cannot_make_and_arrays_beyond_the_free_space(tmp_path):
    """auditbreak: ``-o`` under a file was a NotADirectoryError traceback, ``--width 2000000`` wrote 22 GB."""
    run = tmp_path / "run"
    run.mkdir()
    lengths = np.array([5, 9])
    write_npz(run / "attributions.npz", {"one_hot": np.ones((4, 14), np.float32), "hypothetical": np.ones((4, 14)),
                                         LENGTH: lengths, OFFSETS: ragged_offsets(lengths)})
    (run / "run.json").write_text("{}")
    (tmp_path / "afile").write_text("")
    result = CliRunner().invoke(main, ["export-modisco", str(run), "-o", str(tmp_path / "afile" / "sub")])
    assert result.exit_code == 2 and "cannot make this folder (Not a directory)" in result.output, result.output
    free = shutil.disk_usage(tmp_path).free
    huge = str(free // (2 * 2 * 4 * 4) * 2 + 1)  # twice what two float32 (2, 4, width) arrays can fill
    result = CliRunner().invoke(main, ["export-modisco", str(run), "-o", str(tmp_path / "m"), "--width", huge])
    assert result.exit_code == 2 and "the file system has" in result.output, result.output
    assert not (tmp_path / "m").exists()
    result = CliRunner().invoke(main, ["export-modisco", str(run), "-o", str(tmp_path / "m"), "-q"])
    assert result.exit_code == 0 and np.load(tmp_path / "m" / "ohe.npy").shape == (2, 4, 9), result.output


def test_seqsal_api_reads_ragged_run_rows(tmp_path, tiny_model):
    """The notebook path: iter_attributions' rows are the run folder's regions, unpadded."""
    genome, bed, model, tmp_path = _job(tmp_path, tiny_model[0], 4, 2_000)
    small = tmp_path / "small.bed"
    small.write_text("".join(line + "\n" for line in open(bed).read().splitlines()[:3]))
    run_attribute(genome, str(small), model, str(tmp_path / "three"), progress=False, peaks=False)
    arrays = region_arrays(tmp_path / "three" / "attributions.npz", RUN_KEYS)
    table = pd.read_csv(tmp_path / "three" / "regions.tsv", sep="\t")
    for result in seqsal.iter_attributions(genome, str(small), model):
        np.testing.assert_array_equal(arrays["one_hot"][result.index], result.one_hot)
        np.testing.assert_allclose(arrays["hypothetical"][result.index], result.hypothetical, rtol=1e-6)
        assert arrays["one_hot"][result.index].shape[1] == table["end"][result.index] - table["start"][result.index]
    assert json.loads((tmp_path / "three" / "run.json").read_text())["npz_format"] == 2
