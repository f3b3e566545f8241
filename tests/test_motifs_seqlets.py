"""seqsal.motifs.seqlets: the seqlet table discovery reads and the windows cut around seqlets."""
import numpy as np
import pytest

from seqsal.errors import InputError
from seqsal.motifs import extract_windows, read_seqlet_table


def test_extract_windows_pads_past_row_ends_and_reverse_complements():
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    lengths = np.array([6, 4])
    (out,) = extract_windows([x], lengths, np.array([0, 1, 1]), np.array([-2, 2, 1]), 4, rc=np.array([False, False, True]))
    np.testing.assert_array_equal(out[0, :, :2], 0)
    np.testing.assert_array_equal(out[0, :, 2:], x[0, :, :2])
    np.testing.assert_array_equal(out[1, :, :2], x[1, :, 2:4])
    np.testing.assert_array_equal(out[1, :, 2:], 0)  # row 1 is only 4 long
    np.testing.assert_array_equal(out[2], x[1, ::-1, 1:5][:, ::-1] * np.array([1, 1, 1, 0])[None, ::-1])


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
