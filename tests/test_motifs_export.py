"""seqsal.motifs.export: motifs.tsv rows, motif_instances.tsv rows and motifs.npz (motifs.h5: test_motifs_run.py)."""
import numpy as np
import pandas as pd
import pytest

from seqsal.errors import InputError
from seqsal.motifs import (
    MOTIF_TABLE_COLUMNS,
    DiscoveredMotif,
    instance_table,
    motif_table,
    read_motif_arrays,
    write_motif_arrays,
)


def two_motifs():
    rng = np.random.default_rng(0)
    motifs = []
    for name, sign, width in (("pos_1", "+", 6), ("neg_1", "-", 4)):
        pwm = rng.dirichlet(np.ones(4), size=width).T
        cwm = (rng.normal(size=(4, width)) * (1 if sign == "+" else -1)).astype(np.float32)
        instances = pd.DataFrame({"seqlet": [0, 2], "region_index": [1, 0], "start": [10, 3],
                                  "end": [10 + width, 3 + width], "rc": [False, True], "similarity": [0.9, 0.8]})
        motifs.append(DiscoveredMotif(name, sign, cwm, cwm * 2, pwm, 2, instances))
    return motifs


def test_motif_arrays_round_trip_and_missing_file(tmp_path):
    motifs = two_motifs()
    write_motif_arrays(tmp_path / "motifs.npz", motifs)
    back = read_motif_arrays(tmp_path / "motifs.npz")
    assert list(back) == ["pos_1", "neg_1"]
    for motif in motifs:
        assert sorted(back[motif.name]) == ["cwm", "hypothetical_cwm", "pwm"]
        np.testing.assert_array_equal(back[motif.name]["cwm"], motif.cwm)
        np.testing.assert_array_equal(back[motif.name]["hypothetical_cwm"], motif.hypothetical_cwm)
        np.testing.assert_array_equal(back[motif.name]["pwm"], motif.pwm)
    assert not list(tmp_path.glob("*.tmp-*"))
    with pytest.raises(InputError, match="run `seqsal motifs` first"):
        read_motif_arrays(tmp_path / "missing.npz")


def test_motif_table_without_matches_and_instances_on_genome_coordinates():
    motifs = two_motifs()
    table = motif_table(motifs)
    assert list(table.columns) == MOTIF_TABLE_COLUMNS
    assert table["motif"].tolist() == ["pos_1", "neg_1"] and table["width"].tolist() == [6, 4]
    assert table["match_id"].isna().all()
    assert np.sign(table["contribution"]).tolist() == [1, -1]
    regions = pd.DataFrame({"index": [0, 1], "name": ["a", "b"], "chrom": ["chr1", "chr2"], "start": [100, 5000]})
    seqlets = pd.DataFrame({"name": ["s0", "s1", "s2"], "score": [1.0, 2.0, 3.0], "qvalue": [0.01, 0.02, 0.03]})
    inst = instance_table(motifs, regions, seqlets)
    assert len(inst) == 4
    first = inst.iloc[0]
    assert (first["chrom"], first["start"], first["end"], first["strand"]) == ("chr2", 5010, 5016, "+")
    assert inst["seqlet_name"].tolist() == ["s0", "s2", "s0", "s2"]
    assert inst["strand"].tolist() == ["+", "-", "+", "-"]
    assert inst["qvalue"].tolist() == [0.01, 0.03, 0.01, 0.03] and inst["pvalue"].isna().all()
    assert instance_table([], regions, seqlets).empty
