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


@pytest.mark.parametrize("row, message", [
    ("0\tabc\t9\t+\t1.0", r"seqlets.tsv:3: offset_start 'abc' is not a whole number"),
    ("0\t\t9\t+\t1.0", r"seqlets.tsv:3: offset_start 'nan' is not a whole number"),  # was cast to int64
    ("0\t5.5\t9\t+\t1.0", r"seqlets.tsv:3: offset_start '5.5' is not a whole number"),
    ("x\t5\t9\t+\t1.0", r"seqlets.tsv:3: region_index 'x' is not a whole number"),
    ("0\t5\t9\t?\t1.0", r"seqlets.tsv:3: sign '\?' is not \+ or -"),  # was dropped without a word
    ("0\t5\t9\t+\tabc", r"seqlets.tsv:3: score 'abc' is not a finite number"),  # was a traceback
])
def test_a_seqlet_table_cell_that_is_not_a_number_or_sign_is_refused_by_its_line(tmp_path, row, message):
    """A fresh user's tables (fresh6): a text coordinate or score gave a traceback, an empty coordinate was cast to
    int64 and clustered, a sign '?' silently dropped its row."""
    path = tmp_path / "seqlets.tsv"
    path.write_text(f"region_index\toffset_start\toffset_end\tsign\tscore\n0\t1\t4\t-\t-2\n{row}\n")
    with pytest.raises(InputError, match=message):
        read_seqlet_table(path)
    path.write_text("region_index\toffset_start\toffset_end\tsign\tscore\n0\t1\t4\t-\t-2\n0\t5\t9\t+\t1\n")
    table = read_seqlet_table(path)
    assert table["offset_start"].dtype == np.int64 and table["sign"].tolist() == ["-", "+"]
