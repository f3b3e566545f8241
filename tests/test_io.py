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
