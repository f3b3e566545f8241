"""seqsal.motifs.meme and seqsal.motifs.matrices: MEME minimal-format files and (4, W) matrix helpers."""
import numpy as np
import pytest

from seqsal.errors import InputError
from seqsal.motifs import Motif, consensus, format_meme, information_content, read_meme, write_meme
from motif_helpers import jaspar_motifs


@pytest.fixture(scope="module")
def jaspar():
    return jaspar_motifs()


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
    # fresh24b: a w= smaller than the rows read the motif cut short (its other rows dropped, silently)
    short = tmp_path / "short.meme"
    short.write_text("MEME version 4\n\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.1 0.2 0.3 0.4\n"
                     "\n0.4 0.3 0.2 0.1\nURL x\n\nMOTIF b\nletter-probability matrix: w= 1\n1 0 0 0\n")
    with pytest.raises(InputError, match="short.meme:7: motif a: w= 1 but more matrix rows follow"):
        read_meme(short)
    short.write_text(short.read_text().replace("w= 1", "w= 2", 1))
    assert [m.pwm.shape for m in read_meme(short)] == [(4, 2), (4, 1)]


def test_matrix_helpers():
    pwm = np.array([[0.97, 0.01], [0.01, 0.25], [0.01, 0.25], [0.01, 0.49]])
    assert consensus(pwm) == "At"
    ic = information_content(pwm)
    assert ic[:, 0].sum() == pytest.approx(2 + sum(p * np.log2(p) for p in pwm[:, 0]), abs=1e-9)


def test_rows_of_counts_are_normalised_with_a_warning_and_bad_rows_refused(tmp_path, caplog):
    """Issue 15 item 8: a MEME matrix of counts (a JASPAR PFM pasted in) was read as probabilities."""
    head = "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1 counts\nletter-probability matrix: alength= 4 w= 2\n"
    counts = tmp_path / "counts.meme"
    counts.write_text(head + "95 319 83 503\n0 1000 0 0\n")
    with caplog.at_level("WARNING", logger="seqsal"):
        (motif,) = read_meme(counts)
    np.testing.assert_allclose(motif.pwm[:, 0], [0.095, 0.319, 0.083, 0.503])
    np.testing.assert_allclose(motif.pwm.sum(axis=0), 1.0)
    assert "holds counts" in caplog.text and "m1" in caplog.text
    rounded = tmp_path / "rounded.meme"
    rounded.write_text(head + "0.333 0.333 0.333 0\n0.25 0.25 0.25 0.25\n")  # sums 0.999: rescaled, silently
    np.testing.assert_allclose(read_meme(rounded)[0].pwm.sum(axis=0), 1.0)
    half = tmp_path / "half.meme"
    half.write_text(head + "0.1 0.1 0.1 0.2\n0.25 0.25 0.25 0.25\n")
    with pytest.raises(InputError, match=r"half.meme:7: motif m1: matrix row sums to 0.5, not 1"):
        read_meme(half)
    negative = tmp_path / "negative.meme"
    negative.write_text(head + "0.25 0.25 0.25 0.25\n-0.1 0.5 0.3 0.3\n")
    with pytest.raises(InputError, match=r"negative.meme:8: .*negative entry"):
        read_meme(negative)


def test_a_motif_identifier_given_twice_is_refused_on_its_second_line(tmp_path):
    """fresh6: the bundled subset concatenated twice was read as 34 motifs: every match listed twice, the five best
    matches holding fewer than five motifs, E-values doubled."""
    block = "MOTIF m1 X\nletter-probability matrix: alength= 4 w= 2\n0.1 0.2 0.3 0.4\n0.4 0.3 0.2 0.1\n\n"
    path = tmp_path / "dup.meme"
    path.write_text("MEME version 4\n\nALPHABET= ACGT\n\n" + block + block.replace("m1", "m2") + block)
    with pytest.raises(InputError, match=r"dup.meme:15: motif m1 again \(first on line 5\)"):
        read_meme(path)
    path.write_text("MEME version 4\n\nALPHABET= ACGT\n\n" + block + block.replace("m1", "m2"))
    assert [m.identifier for m in read_meme(path)] == ["m1", "m2"]
