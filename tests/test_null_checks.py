"""A run folder's null.npz is the one its calls were made with: missing (run.json records it) or another run's
is refused by the commands that read it, in one line, exit 2 (fresh6: both carried on, exit 0, with other calls)."""
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from motif_helpers import toy_run_folder, word_tracks
from seqsal.cli import main
from seqsal.tables import read_region_coordinates
from seqsal.peaks import run_null_problem
from seqsal.runlock import REGIONS_TABLE_KEY, regions_table_digest

SITE = "TGACGTCA"


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    folder = toy_run_folder(tmp_path_factory.mktemp("nullcheck") / "run", SITE, 0.5,
                            lambda oh, rng: word_tracks(oh, rng, [(SITE, 0.5)]), 60, 300, 0)
    record = json.loads((folder / "run.json").read_text())
    record["peaks"] = {"null_sample": {"file": "null.npz", "n_regions": 60, "copies": 1, "bases": 18000}}
    record[REGIONS_TABLE_KEY] = regions_table_digest(folder)  # as seqsal attribute records it
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def _copy(toy_run, tmp_path):
    shutil.copytree(toy_run, tmp_path / "run")
    return tmp_path / "run"


def _regions(folder):
    return read_region_coordinates(folder / "regions.tsv", names=False)


def test_the_folder_s_own_null_passes(toy_run):
    assert run_null_problem(toy_run, _regions(toy_run)) is None


def test_a_missing_null_that_run_json_records_is_refused(toy_run, tmp_path):
    folder = _copy(toy_run, tmp_path)
    (folder / "null.npz").unlink()
    assert "missing: run.json records the shuffled null" in run_null_problem(folder, _regions(folder))
    for command in (["call-peaks", str(folder), "-q"], ["motifs", str(folder), "-q", "--database", "none"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"seqsal: error: {folder / 'null.npz'}: missing: run.json records"), \
            result.output
        assert len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(main, ["call-peaks", str(folder), "-q", "--null", "laplace"])  # asked for: fine
    assert result.exit_code == 0, result.output
    record = json.loads((folder / "run.json").read_text())
    record.pop("peaks", None)  # a run that never had a shuffled null: no complaint
    (folder / "run.json").write_text(json.dumps(record))
    assert run_null_problem(folder, _regions(folder)) is None


def test_a_null_of_another_run_is_refused(toy_run, tmp_path):
    folder = _copy(toy_run, tmp_path)
    with np.load(folder / "null.npz") as null:
        members = {key: null[key] for key in null.files}
    members["region_key"] = members["region_key"][::-1].copy()  # rows of other regions
    np.savez(folder / "null.npz", **members)
    problem = run_null_problem(folder, _regions(folder))
    assert problem is not None and problem.startswith("not this run's: its row 0 is the shuffle of chr1:")
    for command in (["call-peaks", str(folder), "-q"], ["motifs", str(folder), "-q", "--database", "none"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2 and "not this run's" in result.output, result.output



def test_a_run_folder_array_damaged_in_place_is_refused_not_read(toy_run, tmp_path):
    """fresh6: 20 kB of random bytes written into null.npz (or attributions.npz) were read as numbers through the
    memory map (np.load itself refuses the file: Bad CRC-32); motifs and call-peaks exited 0 with other calls."""
    from seqsal.errors import InputError
    from seqsal.io import npz_members

    folder = _copy(toy_run, tmp_path)
    assert set(npz_members(folder / "null.npz")) >= {"projected", "valid"}
    size = (folder / "null.npz").stat().st_size
    with open(folder / "null.npz", "r+b") as handle:  # into the projected track, past its headers
        handle.seek(size // 3)
        handle.write(bytes(range(256)) * 8)
    with pytest.raises(InputError, match=r"null.npz: damaged: projected.npy does not match its checksum"):
        npz_members(folder / "null.npz")
    result = CliRunner().invoke(main, ["call-peaks", str(folder), "-q"])
    assert result.exit_code == 2 and "damaged: projected.npy" in result.output, result.output


def test_a_null_of_another_run_of_the_same_regions_is_refused(tmp_path, small_genome, tiny_model):
    """auditbreak: a null.npz copied from a run of the same regions (another model, method or target) matched
    row for row and was read as this run's: call-peaks then called 37 seqlets for 8. The null names the
    attributions it was written beside (``attributions_key``)."""
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t300\ta\nchr1\t1500\t1700\tb\nchr2\t200\t400\tc\n")
    runs = {}
    for task in ("open", "enhancer"):  # the model's two tasks: other attributions of the same regions
        runs[task] = tmp_path / task
        result = CliRunner().invoke(main, ["attribute", str(small_genome[0]), str(bed), "--model",
                                           str(tiny_model[0]), "-o", str(runs[task]), "-q", "--target", task,
                                           "--min-null-bases", "3000"])
        assert result.exit_code == 0, result.output
        assert run_null_problem(runs[task], _regions(runs[task])) is None
    shutil.copyfile(runs["enhancer"] / "null.npz", runs["open"] / "null.npz")
    problem = run_null_problem(runs["open"], _regions(runs["open"]))
    assert problem is not None and problem.startswith("not this run's: it was written beside other attributions")
    for command in (["call-peaks", str(runs["open"]), "-q"], ["motifs", str(runs["open"]), "-q", "--database", "none"],
                    ["audit", str(runs["open"]), "-q"]):  # the audit read the other model's null predictions
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2 and "not this run's" in result.output, result.output
    with open(runs["open"] / "null.npz", "r+b") as handle:  # truncated: a BadZipFile traceback before
        handle.truncate((runs["open"] / "null.npz").stat().st_size - 100)
    for command in (["call-peaks", str(runs["open"]), "-q"], ["audit", str(runs["open"]), "-q"]):
        result = CliRunner().invoke(main, command)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and "it is damaged" in lines[0], result.output


def test_a_run_folder_without_its_run_json_is_refused(toy_run, tmp_path):
    """auditbreak: with run.json removed, the audit ran on without the model's window (0 of 356 window edges for 6),
    call-peaks wrote calls it kept no record of; every command on a run in place now refuses such a folder."""
    folder = _copy(toy_run, tmp_path)
    (folder / "run.json").unlink()
    for command in (["call-peaks", folder, "-q"], ["motifs", folder, "-q", "--database", "none"],
                    ["audit", folder, "-q"], ["report", folder, "-q"], ["logos", folder, "-q"]):
        result = CliRunner().invoke(main, [str(part) for part in command])
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, (command, result.output)
        assert lines[0] == f"seqsal: error: {folder}: holds attributions.npz but no run.json (removed since, or " \
                           "never written): the run's record of its model, genome and parameters is gone; restore " \
                           "run.json, or rerun `seqsal attribute` with --force", lines


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[:4] + ["garbage line here\n"] + rows[5:], "not a run's region table (invalid literal"),
    (lambda rows: rows[:9] + rows[10:], "regions, attributions.npz holds"),
    (lambda rows: rows[:3] + ["\t".join(f if k != 4 else str(int(f) + 7) for k, f in
                                        enumerate(rows[3].split("\t")))] + rows[4:], "the table was edited"),
])
def test_a_region_table_edited_by_hand_is_named_as_such(toy_run, tmp_path, edit, message):
    """auditbreak: a garbage line raised ValueError (tables.py), a removed row was taken for a replaced genome, an
    edited start for another run's null.npz; each is now named for what it is, in one line."""
    folder = _copy(toy_run, tmp_path)
    rows = (folder / "regions.tsv").read_text().splitlines(keepends=True)
    assert rows[0].split("\t")[4] == "end"
    (folder / "regions.tsv").write_text("".join(edit(rows)))
    commands = (["call-peaks", str(folder), "-q"], ["motifs", str(folder), "-q", "--database", "none"])
    for command in commands:
        result = CliRunner().invoke(main, command)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, (command, result.output)
        assert lines[0].startswith(f"seqsal: error: {folder / 'regions.tsv'}: "), lines
        # named by what is wrong in it, or (commands that lock the folder first) by run.json's digest of the table
        assert message in lines[0] or "regions.tsv is not the table this run wrote" in lines[0], lines


def test_a_region_moved_by_hand_to_another_place_of_its_length_is_refused(toy_run, tmp_path):
    """fresh26b: a region shifted by 5 kb (same length, not in the null sample) was called at the new place, its
    seqlet's sequence column the old place's bases."""
    folder = _copy(toy_run, tmp_path)
    rows = (folder / "regions.tsv").read_text().splitlines(keepends=True)
    fields = rows[2].split("\t")
    fields[3], fields[4] = str(int(fields[3]) + 1), str(int(fields[4]) + 1)
    (folder / "regions.tsv").write_text("".join(rows[:2] + ["\t".join(fields)] + rows[3:]))
    for command in (["call-peaks", str(folder), "-q"], ["report", str(folder), "-q"], ["logos", str(folder), "-q"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2 and "regions.tsv is not the table this run wrote" in result.output, command


def test_call_peaks_on_a_run_without_null_says_it_uses_the_laplace_null(toy_run, tmp_path, caplog):
    """byom: `seqsal call-peaks` on a --no-peaks run (no null.npz) used the Laplace null without a word."""
    import logging

    from seqsal.peaks import call_peaks_from_run

    folder = _copy(toy_run, tmp_path)
    (folder / "null.npz").unlink()
    record = json.loads((folder / "run.json").read_text())
    record.pop("peaks")  # a --no-peaks run: no null recorded
    (folder / "run.json").write_text(json.dumps(record))
    caplog.set_level(logging.INFO, logger="seqsal")
    assert call_peaks_from_run(folder, test_widths=(10,)).info["null"] == "laplace"
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("null: laplace")]
    assert lines == ["null: laplace, fitted to this run's own attributions: the run folder has no null.npz (made "
                     "with --no-peaks or --null laplace); `seqsal attribute` without --no-peaks, with its default "
                     "--null shuffle, draws the shuffled null"]
