"""seqsal.io: readers and writers at the edges (here: npz_members, the one .npz member reader)."""
import numpy as np

from seqsal.io import npz_members, write_npz


def test_npz_members_maps_stored_arrays_and_loads_compressed(tmp_path):
    a = np.arange(2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5)
    write_npz(tmp_path / "x.npz", {"a": a, "length": np.array([5, 3])})
    members = npz_members(tmp_path / "x.npz")
    assert isinstance(members["a"], np.memmap)
    np.testing.assert_array_equal(members["a"], a)
    np.testing.assert_array_equal(members["length"], [5, 3])
    np.savez_compressed(tmp_path / "y.npz", a=a)
    np.testing.assert_array_equal(npz_members(tmp_path / "y.npz")["a"], a)


def test_a_write_removes_the_temporary_files_a_killed_writer_left(tmp_path):
    """fresh9: `call-peaks` killed mid-write left elements.tsv.tmp-7798, and the rerun kept it."""
    import subprocess

    import pandas as pd

    from seqsal.io import write_table_atomic

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that has ended
    left = tmp_path / f"t[1].tsv.tmp-{dead.pid}"
    left.write_text("half a table")
    other = tmp_path / "u.tsv.tmp-1"  # another file's, of pid 1 (running): never touched
    other.write_text("x")
    write_table_atomic(tmp_path / "t[1].tsv", pd.DataFrame({"a": [1]}))
    assert (tmp_path / "t[1].tsv").read_text() == "a\n1\n"
    assert not left.exists() and other.exists()


def test_a_damaged_run_json_is_one_line_for_every_command_that_reads_it(small_genome, tiny_model, tmp_path):
    """fresh8: audit, check-seqlets, report and evaluate raised json.JSONDecodeError on a damaged run.json."""
    import pytest
    from click.testing import CliRunner

    from seqsal import AttributeOptions, run_attribute
    from seqsal.cli import main
    from seqsal.errors import InputError
    from seqsal.provenance import read_json_record
    from tests.conftest import write_bed

    genome, _ = small_genome
    model, _ = tiny_model
    bed = write_bed(tmp_path / "r.bed", ["chr1\t100\t400", "chr1\t600\t900", "chr2\t50\t350"])
    out = tmp_path / "run"
    run_attribute(str(genome), str(bed), str(model), str(out), AttributeOptions(batch_size=4), progress=False)
    (out / "run.json").write_text('{"method": "saliency",\n "broken')
    with pytest.raises(InputError, match=r"run.json:2: not valid JSON"):
        read_json_record(out / "run.json")
    for command in (["call-peaks"], ["motifs"], ["evaluate"], ["check-seqlets"], ["audit"], ["logos"], ["report"]):
        result = CliRunner().invoke(main, [*command, str(out), "--quiet"])
        lines = [line for line in result.output.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("seqsal: error:")]  # (warnings of the peak caller)
        assert result.exit_code == 2 and len(errors) == 1 and "run.json:2: not valid JSON" in errors[0], (
            command, result.output)
        assert "Traceback" not in result.output
    (out / "run.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not a JSON object"):
        read_json_record(out / "run.json")
    (out / "run.json").write_text('{"parameters": "x", "peaks": 5}')  # fresh10: AttributeError tracebacks
    with pytest.raises(InputError, match="'parameters' entry is a str, not an object"):
        read_json_record(out / "run.json")
    for command in (["report"], ["evaluate"], ["check-seqlets"], ["motifs"], ["audit"]):
        result = CliRunner().invoke(main, [*command, str(out), "--quiet"])
        assert result.exit_code == 2 and "Traceback" not in result.output, (command, result.output)


def test_a_folder_in_the_way_of_an_output_file_is_one_line(tmp_path):
    """fresh10: `mkdir run/motifs.meme; seqsal motifs run` raised IsADirectoryError from os.replace."""
    import pandas as pd
    import pytest

    from seqsal.errors import InputError
    from seqsal.io import write_table_atomic

    (tmp_path / "t.tsv").mkdir()
    with pytest.raises(InputError, match="a folder is in the way"):
        write_table_atomic(tmp_path / "t.tsv", pd.DataFrame({"a": [1]}))
    assert not list(tmp_path.glob("t.tsv.tmp-*"))
