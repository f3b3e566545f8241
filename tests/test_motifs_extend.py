"""seqsal.motifs.discover.extend_bounds: a motif cut on contribution is widened over the adjacent columns whose
bases its seqlets agree on (the support test, the instance calls and the database match read its PWM)."""
import numpy as np
import pytest

from seqsal.encode import reverse_complement
from seqsal.motifs.discover import DiscoveryOptions, extend_bounds
from motif_helpers import toy_run_folder, word_tracks

CORE = "TGACGTCA"  # what the toy model reads
SITE = CORE + "GATAAG"  # what is planted: the model gives the 6-bp tail no contribution


def _frequencies(bits: list[float]) -> np.ndarray:
    """``(4, len(bits))`` base frequencies whose columns hold about ``bits`` of information (A the top base)."""
    columns = []
    for target in bits:
        grid = np.linspace(0.25, 0.999, 2000)
        info = [2 + p * np.log2(p) + 3 * ((1 - p) / 3) * np.log2((1 - p) / 3) for p in grid]
        p = grid[int(np.argmin(np.abs(np.asarray(info) - target)))]
        columns.append([p, (1 - p) / 3, (1 - p) / 3, (1 - p) / 3])
    return np.asarray(columns).T


def test_extend_bounds_adds_only_informative_columns_next_to_the_motif():
    f = _frequencies([0.0, 0.5, 0.0, 0.4, 0.35, 1.5, 1.5, 1.5, 0.31, 0.2, 0.9, 0.0])
    #                  0    1    2    3    4     5    6    7    8     9    10   11
    assert extend_bounds(f, 5, 8, 0.3) == (3, 9)  # left over 4 and 3 (not 1: column 2 breaks the run), right over 8
    assert extend_bounds(f, 5, 8, 0.45) == (5, 8)  # 0.4 / 0.35 / 0.31 bits: under this level
    assert extend_bounds(f, 5, 8, None) == (5, 8)
    assert extend_bounds(_frequencies([1.0] * 6), 2, 4, 0.3) == (0, 6)  # stops at the window's ends
    uniform = np.full((4, 10), 0.25)
    assert extend_bounds(uniform, 3, 6, 0.3) == (3, 6)


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory):
    return toy_run_folder(tmp_path_factory.mktemp("partial"), SITE, 0.6, lambda oh, rng: word_tracks(
        oh, rng, [(CORE, 0.4)]), 300, 400, 0)


def test_a_site_the_model_reads_in_part_is_found_whole(partial_run):
    """The toy model gives contribution to the first 8 bp of a 14-bp planted site only; the cut on contribution
    keeps those 8 columns, and the seqlets agree on the other 6 (about 2 bits each): the motif is the whole site,
    and no column of the random flanks is added. On benchmarks/zoo's bpnet_A profile head the same widening
    restores GATA1::TAL1's ``AA`` (support 39 vs 13 null windows, p 0.05, dropped -> 44 vs 5, p 1.8e-5, kept)."""
    from seqsal.io import region_arrays
    from seqsal.motifs import discover_motifs, run_motifs
    from seqsal.motifs.run import discovery_seqlets

    result = run_motifs(partial_run, progress=False, database="none")
    kept = [m for m in result["motifs"] if m.sign == "+"]
    assert len(kept) == 1
    consensus = kept[0].consensus.upper()
    assert consensus in (SITE, reverse_complement(SITE))
    assert result["support"].iloc[0]["support_pvalue"] < 1e-10
    # cut on contribution alone (the rule before): the model's 8 bp
    arrays = region_arrays(partial_run / "attributions.npz", ("one_hot", "hypothetical"))
    old = [m for m in discover_motifs(arrays["one_hot"], arrays["hypothetical"], arrays.lengths,
                                      discovery_seqlets(partial_run), DiscoveryOptions(extend_information=None))
           if m.sign == "+"]
    assert old[0].n_seqlets == kept[0].n_seqlets and old[0].pwm.shape[1] <= len(CORE) + 1


def test_flanks_of_an_at_rich_background_are_not_added():
    """fresh7: on a genome of 86 % A/T a random column holds 0.39 bits against a uniform background, and the
    demo's Spi1 grew 11 columns of random flank. Against the windows' own composition such a column holds none."""
    q = np.array([0.43, 0.07, 0.07, 0.43])
    motif = np.array([[0.9, 0.0333, 0.0333, 0.0333]] * 3).T  # A A A: 3 informative columns
    f = np.concatenate([np.tile(q[:, None], (1, 4)), motif, np.tile(q[:, None], (1, 4))], axis=1)
    assert extend_bounds(f, 4, 6, 0.3, q) == (4, 7)  # the motif's third column, not the flanks
    assert extend_bounds(f, 4, 6, 0.3) == (0, 11)  # against a uniform background every AT-rich column passed
