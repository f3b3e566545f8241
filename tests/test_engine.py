import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqsal.encode import one_hot_encode
from seqsal.engine import AdaptiveBatch, iter_region_attributions, select_device, autocast_dtype_for
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
    expected = list(iter_region_attributions(model, genome.fetch, regions, batch_size=8))
    got = list(iter_region_attributions(Flaky(), genome.fetch, regions, batch_size=8))
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


def test_device_and_precision_choices():
    assert select_device("cpu").type == "cpu"
    assert select_device(None).type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA"):
            select_device("cuda")
    assert autocast_dtype_for("fp32", torch.device("cpu")) is None
    assert autocast_dtype_for("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(InputError, match="fp16 needs a GPU"):
        autocast_dtype_for("fp16", torch.device("cpu"))
