"""seqsal.motifs.match: TOMTOM-style comparison with known motifs."""
import numpy as np

from seqsal.motifs import Motif, best_matches, compare_motifs, reverse_complement_matrix
from motif_helpers import jaspar_motifs


def test_compare_motifs_names_the_right_known_motif():
    jaspar = jaspar_motifs()
    rng = np.random.default_rng(0)
    database = list(jaspar.values())
    queries = []
    for name in ("CTCF", "Spi1", "CEBPB"):
        pwm = jaspar[name].pwm[:, 1:-1] + rng.random((4, jaspar[name].pwm.shape[1] - 2)) * 0.2
        queries.append(Motif(name, name, reverse_complement_matrix(pwm / pwm.sum(axis=0))))
    queries.append(Motif("random", "random", rng.dirichlet(np.ones(4), size=10).T))
    table = compare_motifs(queries, database)
    assert len(table) == len(queries) * len(database)
    best = best_matches(table, 1).set_index("query")
    for name in ("CTCF", "Spi1", "CEBPB"):
        assert best.loc[name, "target_name"] == name
        assert best.loc[name, "strand"] == "-" and best.loc[name, "offset"] == 1
        assert best.loc[name, "qvalue"] < 1e-4
    assert best.loc["random", "qvalue"] > 0.05
    assert ((table["pvalue"] >= 0) & (table["pvalue"] <= 1) & (table["qvalue"] >= table["pvalue"])).all()
