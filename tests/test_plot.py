import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from seqsal.encode import one_hot_encode
from seqsal.plot import (COLORS, LogoJob, draw_logo, motif_figure, region_figure, render_jobs, seqlet_figure,
                         stack_heights)


def _colour_pixels(path, hex_colour):
    image = imread(path)[:, :, :3]
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return int((np.abs(image - rgb).sum(axis=2) < 0.1).sum())


@pytest.fixture()
def seqlet():
    one_hot = one_hot_encode("ACGTTGCAAC" * 2)
    hyp = np.tile(np.linspace(-1, 1, 20, dtype=np.float32), (4, 1))
    return one_hot, hyp


def test_stack_heights_positive_up_negative_down():
    matrix = np.array([[0.5, -0.2], [0.2, -0.5], [0.0, 0.1], [0.3, 0.0]])
    bottom, height = stack_heights(matrix)
    assert bottom[:, 0].tolist() == [0.5, 0.0, 0.0, 0.2]  # C (0.2), T (0.3), A (0.5) stacked upward
    assert bottom[0, 1] == pytest.approx(-0.2) and bottom[1, 1] == pytest.approx(-0.7)


def test_seqlet_logo_file_has_the_letters_and_size(tmp_path, seqlet):
    one_hot, hyp = seqlet
    fig = seqlet_figure(one_hot, hyp, title="chr1:100-120 (+) score 3.2", genome_start=100, show_hypothetical=True)
    assert len(fig.axes) == 2
    path = tmp_path / "seqlet.png"
    fig.savefig(path, dpi=100)
    image = imread(path)
    width, height = fig.get_size_inches() * 100
    assert image.shape[:2] == (round(height), round(width))
    for letter in "ACGT":  # every letter is drawn (negative ones below zero, positive ones above)
        assert _colour_pixels(path, COLORS[letter]) > 50, letter


def test_fast_engine_draws_what_logomaker_draws(tmp_path, seqlet):
    from matplotlib.figure import Figure

    one_hot, hyp = seqlet
    counts = {}
    for engine in ("fast", "logomaker"):
        fig = Figure(figsize=(4, 1.5))
        draw_logo(fig.subplots(), one_hot * hyp, engine=engine)
        fig.savefig(tmp_path / f"{engine}.png", dpi=80)
        counts[engine] = [_colour_pixels(tmp_path / f"{engine}.png", COLORS[c]) for c in "ACGT"]
    np.testing.assert_allclose(counts["fast"], counts["logomaker"], rtol=0.15)


def test_region_and_motif_figures_render(tmp_path, seqlet):
    one_hot, hyp = seqlet
    spans = pd.DataFrame({"start": [1003, 1010], "end": [1008, 1016], "sign": ["+", "-"], "label": ["S", "E"],
                          "layer": ["seqlets", "elements"]})
    fig = region_figure(one_hot, hyp, "chr2", 1000, spans=spans, title="region")
    assert len(fig.axes) == 3 and len(fig.axes[2].patches) == 2
    fig.savefig(tmp_path / "region.png")
    assert _colour_pixels(tmp_path / "region.png", "#2471a3") > 20  # the negative span and track
    cwm = np.zeros((4, 6))
    cwm[[0, 1, 2, 3, 0, 1], np.arange(6)] = 1.0
    pwm = cwm * 0.9 + 0.025
    fig = motif_figure(cwm, pwm, title="pos_1")
    assert len(fig.axes) == 4
    assert fig.axes[2].get_ylim()[1] == pytest.approx(2.05)
    fig.savefig(tmp_path / "motif.svg")
    assert (tmp_path / "motif.svg").read_text().count("<path") > 24


def test_render_jobs_in_a_pool_writes_every_file(tmp_path, seqlet):
    one_hot, hyp = seqlet
    jobs = [LogoJob(str(tmp_path / "logos" / f"s{i}.png"), "seqlet", {"one_hot": one_hot, "hypothetical": hyp * (i + 1)})
            for i in range(6)]
    paths = render_jobs(jobs, workers=2)
    assert paths == [job.path for job in jobs]
    assert all(imread(path).shape[0] > 50 for path in paths)
    assert not list((tmp_path / "logos").glob("*.tmp-*"))


def test_figures_refuse_letters_along_the_wrong_axis_with_what_to_do():
    """A notebook user with (L, 4) arrays (letters last) is told to transpose, not shown a broadcasting error."""
    from seqsal.plot import motif_figure, region_figure, seqlet_figure

    one_hot = np.eye(4, dtype=np.float32)[np.arange(12) % 4].T  # (4, 12)
    hypothetical = np.linspace(-1, 1, 48, dtype=np.float32).reshape(4, 12)
    with pytest.raises(ValueError, match=r"one_hot must be \(4, L\).*\(12, 4\).*transpose"):
        seqlet_figure(one_hot.T, hypothetical.T)
    with pytest.raises(ValueError, match="one shape"):
        region_figure(one_hot, hypothetical[:, :10], "chr1", 0)
    with pytest.raises(ValueError, match=r"cwm must be \(4, L\)"):
        motif_figure(hypothetical[None], np.full((4, 12), 0.25))
    assert seqlet_figure(one_hot, hypothetical) is not None  # (4, L) still draws


@pytest.mark.parametrize("disabled", ["1", ""])
def test_logo_progress_follows_tqdm_disable(tmp_path, disabled):
    """fresh9: the workflow sets TQDM_DISABLE=1, but `seqsal logos` passed disable=False and its bars filled the
    rule logs; with the variable set no bar is drawn, without it the bar shows."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np; from seqsal.plot import LogoJob, render_jobs; "
            "x = np.eye(4, dtype=np.float32)[np.arange(12) % 4].T; "
            f"render_jobs([LogoJob({str(tmp_path / 'a.png')!r}, 'seqlet', {{'one_hot': x, 'hypothetical': x}})], "
            "progress=True)")
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"} | ({"TQDM_DISABLE": "1"} if disabled else {})
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert ("logo" in result.stderr) != bool(disabled), result.stderr


def test_motif_figure_refuses_a_pwm_that_is_not_letter_probabilities():
    """fresh11: motif_figure(hyp, hyp) drew a 'PWM' of signed contributions (information content of negatives)."""
    signed = np.random.default_rng(0).normal(size=(4, 10))
    with pytest.raises(ValueError, match="not a letter-probability matrix"):
        motif_figure(signed, signed)
    with pytest.raises(ValueError, match="not a letter-probability matrix"):
        motif_figure(signed, np.full((4, 10), 0.3))  # columns summing to 1.2
    motif_figure(signed, np.full((4, 10), 0.25))


def test_peak_calls_print_as_one_line():
    """fresh11: a cell ending in call_peaks_from_run(...) printed the whole info dict (null fits, grids)."""
    from seqsal.peaks import PeakCalls

    calls = PeakCalls(pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [1]}),
                      {"fdr": 0.2, "element_fdr": 0.05, "null": "shuffle", "grid": list(range(1000))})
    assert repr(calls) == ("PeakCalls(2 seqlets at FDR 0.2, 1 elements at FDR 0.05, shuffle null; .seqlets, .elements, "
                           ".info)")
