import numpy as np
import pytest
import torch

from seqsal.encode import (
    invalid_characters,
    one_hot_decode,
    one_hot_encode,
    reverse_complement,
    reverse_complement_one_hot,
)


def test_one_hot_layout_and_values():
    x = one_hot_encode("ACGTN")
    assert x.shape == (4, 5) and x.dtype == np.float32
    expected = np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0]], dtype=np.float32)
    np.testing.assert_array_equal(x, expected)


def test_lowercase_equals_uppercase_and_iupac_are_zero():
    np.testing.assert_array_equal(one_hot_encode("acgtRYN"), one_hot_encode("ACGTRYN"))
    assert one_hot_encode("RYSWKMBDHVN").sum() == 0


def test_n_value_quarter():
    x = one_hot_encode("ANR", n_value=0.25)
    np.testing.assert_array_equal(x[:, 0], [1, 0, 0, 0])
    np.testing.assert_array_equal(x[:, 1:], np.full((4, 2), 0.25, dtype=np.float32))


def test_int8_matches_float():
    sequence = "ACGTNacgtn" * 50
    np.testing.assert_array_equal(one_hot_encode(sequence, dtype=np.int8).astype(np.float32), one_hot_encode(sequence))
    with pytest.raises(ValueError):
        one_hot_encode("ACGT", dtype=np.int8, n_value=0.25)


def test_decode_roundtrip_and_unknown():
    sequence = "ACGTTGCAAN"
    assert one_hot_decode(one_hot_encode(sequence)) == sequence
    assert one_hot_decode(torch.from_numpy(one_hot_encode("acgN"))) == "ACGN"
    assert one_hot_decode(one_hot_encode("AN"), unknown="-") == "A-"
    with pytest.raises(ValueError, match="one ASCII character"):  # review32: NumPy 2.4 returned 'A\x01'
        one_hot_decode(one_hot_encode("AN"), unknown="\u0101")


def test_reverse_complement_string_and_one_hot_agree():
    sequence = "AACGTTTGCANRY"
    assert reverse_complement(sequence) == "RYNTGCAAACGTT"
    np.testing.assert_array_equal(
        reverse_complement_one_hot(one_hot_encode(sequence)), one_hot_encode(reverse_complement(sequence))
    )
    batch = torch.from_numpy(np.stack([one_hot_encode(sequence)] * 2))
    assert torch.equal(reverse_complement_one_hot(reverse_complement_one_hot(batch)), batch)


def test_invalid_characters_reports_positions():
    assert invalid_characters("ACGTNX-a") == [(5, "X"), (6, "-")]


@pytest.mark.parametrize("text, shown, position", [("ACGT\nACG", "'\\\\n'", 4), ("AC T", "' '", 2), ("AC5", "'5'", 2),
                                                     ("ACZ", "'Z'", 2), ("acgtnN-", "'-'", 6), (">chr1", "'>'", 0)])
def test_characters_that_are_not_iupac_codes_are_refused_with_their_position(text, shown, position):
    """apidoc: one_hot_encode("ACGT\\nACG T5Z-") gave 13 columns, the newline, space, digit, Z and gap as N."""
    from seqsal.errors import InputError

    for dtype in (np.float32, np.int8):
        with pytest.raises(InputError, match=f"character {shown} at position {position} is not an IUPAC DNA code"):
            one_hot_encode(text, dtype=dtype)
    assert one_hot_encode("ACGTNRYSWKMBDHVUacgtn").shape == (4, 21)


def test_uracil_complements_to_adenine():
    assert reverse_complement("ACGU") == "ACGT" and reverse_complement("acgu") == "acgt"
