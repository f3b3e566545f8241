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
