"""README and docs/formats.rst facts (fresh4's finding 12): every ``seqsal.<module>.<NAME>`` the README names exists
(it named ``seqsal.motifs.DISCOVERY_WIDTHS``, which is ``seqsal.motifs.run.DISCOVERY_WIDTHS``), every column of
``motifs.tsv`` is explained in docs/formats.rst, and ``match_offset`` has the sign the docs say."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import numpy as np

from seqsal.motifs import MOTIF_TABLE_COLUMNS
from seqsal.motifs.match import compare_motifs
from seqsal.motifs.matrices import reverse_complement_matrix
from seqsal.motifs.meme import Motif

ROOT = Path(__file__).resolve().parents[1]
DOTTED = re.compile(r"`(seqsal(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _resolve(dotted: str) -> bool:
    """Whether ``seqsal.a.b.NAME`` is a module or an attribute of the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(value, name):
                return False
            value = getattr(value, name)
        return True
    return False


def test_every_seqsal_name_the_readme_gives_exists():
    names = sorted(set(DOTTED.findall((ROOT / "README.md").read_text())))
    assert "seqsal.motifs.run.DISCOVERY_WIDTHS" in names
    missing = [name for name in names if not _resolve(name)]
    assert not missing, f"README names {missing}, which do not exist"


def test_every_motifs_tsv_column_is_explained_in_formats_rst():
    text = (ROOT / "docs" / "formats.rst").read_text()
    section = text[text.index("``motifs.tsv``\n--------------"):text.index("Provenance\n----------")]
    explained = {name for line in section.splitlines() if line.startswith("   * - ")
                 for name in re.findall(r"``([a-z_]+)``", line)}  # the first cell of each row
    missing = [column for column in MOTIF_TABLE_COLUMNS if column not in explained]
    assert not missing, f"docs/formats.rst does not explain motifs.tsv's {missing}"


def _pwm(consensus: str) -> np.ndarray:
    """A ``(4, W)`` PWM with probability 0.91 on each column's base of ``consensus``."""
    pwm = np.full((4, len(consensus)), 0.03)
    pwm[["ACGT".index(base) for base in consensus], np.arange(len(consensus))] = 0.91
    return pwm


def test_match_offset_is_the_database_column_facing_the_motifs_first_column():
    """As docs/formats.rst says: motif column j faces database column j + match_offset on match_strand."""
    target = Motif("T1", "target", _pwm("GCATGAGTCATCG"))
    decoys = [Motif(f"D{k}", "decoy", _pwm(seq)) for k, seq in enumerate(["AAAAAAAA", "CCCCGGGG", "ACACACAC"])]
    inside = Motif("q1", "inside", _pwm("TGAGTCA"))  # starts at column 3 of the target
    hanging = Motif("q2", "hanging", _pwm("TTTGCATGAG"))  # its column 3 faces the target's column 0
    minus = Motif("q3", "minus", reverse_complement_matrix(_pwm("ATGAGTCAT")))  # the target's 2..10, reversed
    table = compare_motifs([inside, hanging, minus], [target, *decoys], context=0)
    best = table[table["target_id"] == "T1"].set_index("query")
    assert (best.loc["q1", "strand"], best.loc["q1", "offset"]) == ("+", 3)
    assert (best.loc["q2", "strand"], best.loc["q2", "offset"]) == ("+", -3)
    # the target's reverse complement is CGATGACTCATGC: ATGACTCAT starts at its column 2
    assert (best.loc["q3", "strand"], best.loc["q3", "offset"]) == ("-", 2)
