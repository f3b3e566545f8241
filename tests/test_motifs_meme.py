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


def test_matrix_helpers():
    pwm = np.array([[0.97, 0.01], [0.01, 0.25], [0.01, 0.25], [0.01, 0.49]])
    assert consensus(pwm) == "At"
    ic = information_content(pwm)
    assert ic[:, 0].sum() == pytest.approx(2 + sum(p * np.log2(p) for p in pwm[:, 0]), abs=1e-9)
