import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqsal.encode import one_hot_encode, reverse_complement
from seqsal.engine import AdaptiveBatch, iter_region_attributions
from seqsal.errors import InputError
from seqsal.genome import Genome


class Pointwise(nn.Module):
    """f(x) = sum_j h(x[:, j]) with a nonlinear h: the attribution of base j depends on base j only."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv1d(4, 8, 1), nn.Tanh(), nn.Conv1d(8, 1, 1))

    def forward(self, x):
        return self.net(x).sum(dim=(1, 2))


class Linear(nn.Module):
    def __init__(self, length):
        super().__init__()
        torch.manual_seed(1)
        self.weight = nn.Parameter(torch.randn(4, length))

    def forward(self, x):
        return (x * self.weight).sum(dim=(1, 2))


def _regions(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "strand"])


@pytest.mark.parametrize("stitch", ["mean", "centre"])
def test_tiled_track_equals_whole_region(small_genome, stitch):
    path, _ = small_genome
    genome = Genome(path)
    regions = _regions([("chr1", 100, 1100, "+"), ("chr1", 2000, 2333, "-"), ("chr2", 2500, 3100, "+")])
    model = Pointwise()
    whole = list(iter_region_attributions(model, genome.fetch, regions, window=None))
    tiled = list(iter_region_attributions(model, genome.fetch, regions, window=128, stride=50, batch_size=7,
                                          stitch=stitch))
    for a, b in zip(whole, tiled):
        assert a.hypothetical.shape == (4, a.one_hot.shape[1])
        np.testing.assert_allclose(a.hypothetical, b.hypothetical, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(a.one_hot, b.one_hot)
    assert tiled[0].n_windows == len(range(0, 1000 - 128 + 1, 50)) + 1


def test_minus_strand_is_attributed_on_reverse_complement_and_mapped_back(small_genome):
    path, sequences = small_genome
    genome = Genome(path)
    model = Linear(50)
    regions = _regions([("chr1", 300, 350, "+"), ("chr1", 300, 350, "-")])
    plus, minus = iter_region_attributions(model, genome.fetch, regions, correct=False)
    weight = model.weight.detach().numpy()
    np.testing.assert_array_equal(plus.one_hot, one_hot_encode(sequences["chr1"][300:350]))
    np.testing.assert_array_equal(minus.one_hot, plus.one_hot)  # stored on the + strand
    np.testing.assert_allclose(plus.hypothetical, weight)
    np.testing.assert_allclose(minus.hypothetical, weight[::-1, ::-1])


def test_short_region_gets_genomic_context_then_cropped(small_genome):
    path, sequences = small_genome
    genome = Genome(path)
    model = Linear(100)
    (result,) = iter_region_attributions(model, genome.fetch, _regions([("chr1", 500, 540, "+")]), window=100,
                                         correct=False)
    assert result.hypothetical.shape == (4, 40)
    np.testing.assert_allclose(result.hypothetical, model.weight.detach().numpy()[:, 30:70])


def test_region_past_chromosome_end_is_padded(small_genome):
    path, _ = small_genome
    genome = Genome(path)
    (result,) = iter_region_attributions(Pointwise(), genome.fetch, _regions([("chr2", 2950, 3050, "+")]))
    assert result.one_hot.shape == (4, 100)
    assert result.one_hot[:, 50:].sum() == 0 and result.one_hot[:, :50].sum() == 50


def test_out_of_memory_halves_the_batch_and_gives_same_result(small_genome):
    path, _ = small_genome
    genome = Genome(path)
    model = Pointwise()
    calls = []

    class Flaky(nn.Module):
        def forward(self, x):
            calls.append(x.shape[0])
            if x.shape[0] > 3:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return model(x)

    regions = _regions([("chr1", i * 100, i * 100 + 100, "+") for i in range(10)])
    # on the CPU: Flaky holds its model outside (a GPU run would not move it: session 32, an H200)
    expected = list(iter_region_attributions(model, genome.fetch, regions, batch_size=8, device="cpu"))
    got = list(iter_region_attributions(Flaky(), genome.fetch, regions, batch_size=8, device="cpu"))
    for a, b in zip(expected, got):
        np.testing.assert_allclose(a.hypothetical, b.hypothetical, rtol=1e-6)
    assert 8 in calls and max(calls[calls.index(8) + 1:]) <= 3 + 1


def test_adaptive_batch_reraises_other_errors():
    def broken(x):
        raise ValueError("shape mismatch")

    with pytest.raises(ValueError):
        AdaptiveBatch(broken, 4)(torch.zeros(8, 4, 10))


def test_nonfinite_predictions_stop_or_skip(small_genome):
    path, _ = small_genome
    genome = Genome(path)

    class NaNModel(nn.Module):
        def forward(self, x):
            return x.sum(dim=(1, 2)) * float("nan")

    regions = _regions([("chr1", 0, 50, "+")]).assign(name="r1")
    with pytest.raises(InputError, match="NaN/Inf for region r1"):
        list(iter_region_attributions(NaNModel(), genome.fetch, regions))
    (result,) = iter_region_attributions(NaNModel(), genome.fetch, regions, on_error="skip")
    assert result.status == "nonfinite" and not result.hypothetical.any()


class PositionalQuadratic(nn.Module):
    """f(x) = sum_j w_j tanh(h_0j) + 0.3 sum_j h_1j h_2j with h = conv(x) (4 -> 3 channels, width 5, zero padded):
    its gradient depends on the input (tanh, the product of two channels) and on the position in the window
    (w_j), so which window a base's attribution comes from, and which strand the model saw, both show."""

    def __init__(self, window: int, seed: int = 2):
        super().__init__()
        torch.manual_seed(seed)
        self.conv = nn.Conv1d(4, 3, 5, padding=2)
        self.position = nn.Parameter(torch.linspace(-1.0, 2.0, window) + 0.3 * torch.randn(window))

    def forward(self, x):
        h = self.conv(x)
        return (self.position * torch.tanh(h[:, 0])).sum(-1) + 0.3 * (h[:, 1] * h[:, 2]).sum(-1)


def _gradient(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """d model / d x of one ``(4, W)`` window, by autograd (the hypothetical contributions of grad x input,
    uncorrected)."""
    tensor = torch.tensor(np.ascontiguousarray(x)[None], dtype=torch.float32, requires_grad=True)
    model(tensor).sum().backward()
    return tensor.grad[0].numpy()


def _stitched_by_hand(model, x, window, stride, stitch):
    """The track of ``x`` ``(4, L)`` tiled as the engine tiles it, each window attributed on its own: per base the
    mean over its windows, or the window whose centre is nearest (asserted unique)."""
    length = x.shape[1]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    gradients = [_gradient(model, x[:, o:o + window]) for o in starts]
    expected = np.zeros_like(x)
    for base in range(length):
        covering = [k for k, o in enumerate(starts) if o <= base < o + window]
        if stitch == "mean":
            expected[:, base] = np.mean([gradients[k][:, base - starts[k]] for k in covering], axis=0)
            continue
        distance = [abs(base - starts[k] - (window - 1) / 2) for k in covering]
        nearest = int(np.argmin(distance))
        assert sorted(distance)[:2].count(distance[nearest]) == 1  # no tie to break
        expected[:, base] = gradients[covering[nearest]][:, base - starts[covering[nearest]]]
    return expected


@pytest.mark.parametrize("stitch", ["mean", "centre"])
def test_stitching_takes_the_mean_or_the_nearest_centre_window(small_genome, stitch):
    """A tiled region (1,000 bp, windows of 128 every 50) of a model whose attribution depends on the position in
    its window: ``mean`` averages a base's windows, ``centre`` takes the window whose centre is nearest; both equal
    the track built by attributing every window by hand."""
    path, sequences = small_genome
    window, stride = 128, 50
    model = PositionalQuadratic(window)
    (result,) = iter_region_attributions(model, Genome(path).fetch, _regions([("chr1", 100, 1100, "+")]),
                                         window=window, stride=stride, batch_size=5, stitch=stitch, correct=False)
    expected = _stitched_by_hand(model, one_hot_encode(sequences["chr1"][100:1100]), window, stride, stitch)
    np.testing.assert_allclose(result.hypothetical, expected, rtol=1e-5, atol=1e-6)
    assert result.n_windows == 19


@pytest.mark.parametrize("window", [None, 128])
def test_minus_strand_input_is_reverse_complemented_for_a_nonlinear_model(small_genome, window):
    """A minus-strand region is attributed on its reverse complement and mapped back: with a model whose gradient
    depends on its input, its attribution is RC(attribution of RC(sequence)) and its prediction f(RC(sequence)),
    not what the + strand sequence gives. Whole (50 bp) and tiled (400 bp, windows of 128 every 64, centre)."""
    path, sequences = small_genome
    length = 50 if window is None else 400
    model = PositionalQuadratic(length if window is None else window, seed=3)
    regions = _regions([("chr1", 300, 300 + length, "+"), ("chr1", 300, 300 + length, "-")])
    plus, minus = iter_region_attributions(model, Genome(path).fetch, regions, window=window,
                                           stride=None if window is None else 64, stitch="centre", correct=False)
    sequence = sequences["chr1"][300:300 + length]
    x, x_rc = one_hot_encode(sequence), one_hot_encode(reverse_complement(sequence))
    np.testing.assert_array_equal(x_rc, x[::-1, ::-1])
    np.testing.assert_array_equal(minus.one_hot, x)  # stored on the + strand
    if window is None:
        on_plus, on_minus = _gradient(model, x), _gradient(model, x_rc)[::-1, ::-1]
    else:
        on_plus = _stitched_by_hand(model, x, window, 64, "centre")
        on_minus = _stitched_by_hand(model, x_rc, window, 64, "centre")[::-1, ::-1]
    np.testing.assert_allclose(plus.hypothetical, on_plus, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(minus.hypothetical, on_minus, rtol=1e-5, atol=1e-6)
    assert np.abs(on_minus - on_plus[::-1, ::-1]).max() > 0.05  # the strand the model saw matters
    if window is None:
        with torch.no_grad():
            assert minus.prediction == pytest.approx(float(model(torch.from_numpy(x_rc.copy())[None])), rel=1e-5)


def test_a_notebook_table_without_names_gets_messages_not_key_errors():
    # session 32 (an H200): a region table with no name column turned the engine's messages into KeyError 'name'
    class NaN(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return (x.sum(dim=(1, 2)) * self.w * float("nan"))[:, None]

    table = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [50], "strand": ["+"]})
    with pytest.raises(InputError, match=r"NaN/Inf for region at row 0 \(chr1:0-50\)"):
        list(iter_region_attributions(NaN(), lambda chrom, start, end: "A" * (end - start), table, window=50,
                                      device="cpu"))
