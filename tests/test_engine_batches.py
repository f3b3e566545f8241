"""Issue 18: batches of real windows only, cut the same way in every run of a job (:mod:`seqsal.batches`); the
out-of-memory back-off on the CPU; the memory plan (:mod:`seqsal.memory`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqsal.batches import schedule, window_counts
from seqsal.engine import AdaptiveBatch, fit_memory, is_out_of_memory, iter_region_attributions
from seqsal.errors import InputError
from seqsal.genome import Genome
from seqsal.memory import WindowCost, measure_window_cost, parse_memory, plan_memory
from seqsal.attribution import Target, input_gradient

CPU_OOM = ("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
           "allocate 21474836480 bytes. Error code 12 (Cannot allocate memory)")


class Dense(nn.Module):
    """Conv, then a dense layer over the whole window: its GEMM rounds differently for different batch sizes, so a
    window's bits show which batch it was computed in. Records the shape of every batch it sees."""

    def __init__(self, width: int | None = None):
        super().__init__()
        torch.manual_seed(4)
        self.conv = nn.Conv1d(4, 16, 5, padding=2)
        self.dense = nn.Linear(16, 32)
        self.head = nn.Linear(32, 1)
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x):
        self.seen.append(tuple(x.shape))
        h = torch.tanh(self.conv(x)).mean(dim=2)
        return self.head(torch.tanh(self.dense(h)))[:, 0]


def _table(rows):
    table = pd.DataFrame(rows, columns=["chrom", "start", "end", "strand"])
    return table.assign(name=[f"r{i}" for i in range(len(table))])


def _run(model, genome, table, **kwargs):
    return list(iter_region_attributions(model, genome.fetch, table, correct=False, **kwargs))


def _mixed_regions(n: int = 23, seed: int = 3):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        length = int(rng.choice([60, 90, 150, 420]))
        chrom, size = ("chr2", 3000) if i % 3 == 0 else ("chr1", 5000)
        start = int(rng.integers(0, size - length))
        rows.append((chrom, start, start + length, "+-"[i % 2]))
    return _table(rows)


def test_schedule_agrees_with_the_whole_jobs_batches():
    """A part of the table computes exactly the whole job's batches that its windows fall in (brute force)."""
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(1, 25))
        lengths = rng.choice([50, 80, 200, 450, 1000], n)
        window = [None, 100, 200][trial % 3]
        stride = None if window is None else int(rng.integers(20, window + 1))
        size, block = int(rng.integers(1, 9)), int(rng.integers(100, 3000))
        first = int(rng.integers(0, n))
        stop = int(rng.integers(first + 1, n + 1))
        whole = list(schedule(lengths, window, stride, size, block_bases=block))
        counts, _ = window_counts(lengths, window, stride)
        assert sorted(p.region for p in whole) == list(range(n)) and all(len(p.windows) == counts[p.region]
                                                                        for p in whole)
        batches = np.concatenate([p.batches for p in whole])
        assert (np.diff(batches) >= 0).all() and max(np.unique(batches, return_counts=True)[1]) <= size
        wanted = {int(b) for p in whole if first <= p.region < stop for b in p.batches}
        expected = [(p.region, list(p.windows[keep]), first <= p.region < stop) for p in whole
                    if (keep := np.isin(p.batches, list(wanted))).any()]
        got = [(p.region, list(p.windows), p.wanted) for p in schedule(lengths, window, stride, size, first, stop,
                                                                        block_bases=block)]
        assert got == expected


def test_only_real_windows_go_through_the_model(small_genome):
    """2 regions of 3 windows each at the default batch of 64: the model sees 6 rows (it saw 64 with padding); the
    memory probe (1 and 2 windows, forward and backward) is all else it sees."""
    genome = Genome(small_genome[0])
    model = Dense()
    results = _run(model, genome, _table([("chr1", 100, 400, "+"), ("chr1", 1000, 1300, "-")]), window=100,
                   stride=100)
    assert [r.n_windows for r in results] == [3, 3]
    probe, work = model.seen[:2], model.seen[2:]
    assert probe == [(1, 4, 100), (2, 4, 100)]
    assert work == [(6, 4, 100)]


def test_whole_regions_are_batched_by_length(small_genome):
    """No window: regions of one length share batches (grouped within a block), and the results come back in
    table order; every row the model sees is a region."""
    genome = Genome(small_genome[0])
    table = _mixed_regions()
    model = Dense()
    results = _run(model, genome, table, batch_size=4, max_memory="1G")
    assert [r.index for r in results] == list(range(len(table)))
    work = model.seen[2:]
    assert sum(shape[0] for shape in work) == len(table)
    lengths = (table["end"] - table["start"]).to_numpy()
    assert len(work) == sum(-(-int(c) // 4) for c in np.unique(lengths, return_counts=True)[1])
    for result, length in zip(results, lengths):
        assert result.hypothetical.shape == (4, length)


@pytest.mark.parametrize("window", [None, 100])
def test_parts_and_resumes_give_the_bytes_of_the_whole_run(small_genome, window):
    """Shards (``whole_table``) and resumes (``skip``) of a job: the same bytes as one run, for a model whose bits
    depend on the batch size (checked: computing the windows one by one differs)."""
    genome = Genome(small_genome[0])
    table = _mixed_regions(30)
    kwargs = dict(window=window, stride=None if window is None else 40, batch_size=5, max_memory="1G")
    whole = _run(Dense(), genome, table, **kwargs)
    for first, stop in ((0, 7), (7, 19), (19, 30), (3, 4)):
        part = table.iloc[first:stop].reset_index(drop=True)
        got = _run(Dense(), genome, part, whole_table=(table, first), **kwargs)
        assert [r.index for r in got] == list(range(stop - first))
        for a, b in zip(got, whole[first:stop]):
            assert a.hypothetical.tobytes() == b.hypothetical.tobytes() and a.prediction == b.prediction
    resumed = _run(Dense(), genome, table, skip=11, **kwargs)
    assert [r.index for r in resumed] == list(range(11, 30))
    assert all(a.hypothetical.tobytes() == b.hypothetical.tobytes() for a, b in zip(resumed, whole[11:]))
    alone = _run(Dense(), genome, table, **{**kwargs, "batch_size": 1})
    assert any(a.hypothetical.tobytes() != b.hypothetical.tobytes() for a, b in zip(alone, whole))
    np.testing.assert_allclose(np.concatenate([a.hypothetical.ravel() for a in alone]),
                               np.concatenate([b.hypothetical.ravel() for b in whole]), rtol=1e-5, atol=1e-7)


def test_cpu_allocator_failure_is_out_of_memory():
    assert is_out_of_memory(RuntimeError(CPU_OOM))
    assert is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_cpu_out_of_memory_halves_the_batch(small_genome):
    """A model that fails like the CPU allocator above 3 windows: the batch is halved until it fits, and the maps
    equal those of a run that never failed."""
    genome = Genome(small_genome[0])
    reference = Dense()
    calls = []

    class Starved(nn.Module):
        def forward(self, x):
            calls.append(x.shape[0])
            if x.shape[0] > 3:
                raise RuntimeError(CPU_OOM)
            return reference(x)

    table = _table([("chr1", i * 100, i * 100 + 100, "+") for i in range(12)])
    # on the CPU: the allocator's error is the CPU's, and Starved holds its model outside (not moved to a GPU)
    expected = _run(reference, genome, table, batch_size=12, max_memory="1G", device="cpu")
    got = _run(Starved(), genome, table, batch_size=12, max_memory="1G", device="cpu")
    for a, b in zip(expected, got):
        np.testing.assert_allclose(a.hypothetical, b.hypothetical, rtol=1e-5, atol=1e-7)
    work = calls[calls.index(12):]  # after the memory probe and the gradient check (one window a pass)
    assert work[:3] == [12, 6, 3] and max(work[3:]) <= 3 and sum(n for n in work if n <= 3) == 12

    def broke(x):
        raise RuntimeError(CPU_OOM)

    with pytest.raises(RuntimeError, match="can't allocate"):  # a batch of one that does not fit: no way out
        AdaptiveBatch(broke, 4)(torch.zeros(4, 4, 10))


def test_parse_memory():
    assert parse_memory("4G") == 4 << 30 and parse_memory("512M") == 512 << 20 and parse_memory("1.5GB") == 3 << 29
    assert parse_memory("2GiB") == 2 << 30 and parse_memory(None) is None and parse_memory(10 << 20) == 10 << 20
    for bad in ("lots", "4Q", "-1G", "100K"):
        with pytest.raises(InputError, match="^max_memory ") as error:  # the API's keyword; the CLI's flag:
            parse_memory(bad)
        assert error.value.cli_message().startswith("--max-memory ")


def test_window_cost_is_measured_and_linear():
    model = Dense()
    target = Target()

    def probe(x):
        input_gradient(model, x, target)

    cost = measure_window_cost(probe, 1000, torch.device("cpu"))
    # conv activations (16 x 1000 float32: the conv's output, its tanh, the gradients) are most of a window
    assert 100_000 < cost.per_window < 2_000_000


def test_plan_fits_the_budget():
    cost = WindowCost(per_window=10 << 20, fixed=5 << 20)
    plan = plan_memory("grad_x_input", {}, False, 64, 325 << 20, cost, 1000)
    assert plan.batch_size == 32 and plan.inner is None
    assert plan_memory("grad_x_input", {}, True, 64, 325 << 20, cost, 1000).batch_size == 16
    assert plan_memory("grad_x_input", {}, False, 8, 325 << 20, cost, 1000).batch_size == 8  # never above asked
    ig = plan_memory("ig", {"references": 2}, False, 64, 325 << 20, cost, 1000)
    assert ig.inner == ("point_batch", 16) and ig.batch_size == 64
    # what each window keeps: (3 R + 4) window-sized float32 arrays, in half the budget
    big = plan_memory("ig", {"references": 10}, False, 64, 325 << 20, cost, 10_000)
    assert big.batch_size == (325 << 20) // 2 // ((3 * 10 + 4) * 16 * 10_000) == 31
    assert plan_memory("ig", {"references": 10}, False, 64, 325 << 20, cost, 1_000_000).batch_size == 1
    assert plan_memory("deepshap", {"pair_batch": 4}, False, 64, 325 << 20, cost, 1000).inner == ("pair_batch", 4)


def test_ig_runs_in_chunks_that_fit_and_stays_complete(small_genome):
    """ig with a budget of 80 rows: path points go through in passes of at most 40 (two whole paths of 16 steps),
    the maps equal the unconstrained run's, and they still sum to f(x) - mean f(baselines) (the engine checks
    every window against the method's tolerance)."""
    genome = Genome(small_genome[0])
    model = Dense()
    target = Target()
    cost = measure_window_cost(lambda x: input_gradient(model, x, target), 1000, torch.device("cpu"))
    budget = cost.fixed + 80 * cost.per_window
    _, params, plan = fit_memory(model, target, "ig", {"steps": 16}, False, 64, budget, torch.device("cpu"), None,
                                 1000)
    assert params["point_batch"] == 40 and plan.inner == ("point_batch", 40)
    table = _table([("chr1", i * 1100, i * 1100 + 1000, "+") for i in range(4)])
    kwargs = dict(window=1000, method="ig", method_params={"steps": 16})
    free = _run(model, genome, table, max_memory="4G", **kwargs)
    model.seen.clear()
    fitted = _run(model, genome, table, max_memory=budget, **kwargs)
    passes = [shape[0] for shape in model.seen[2:]]
    assert max(passes) <= 40 and max(_ for _ in passes) == 32
    for a, b in zip(free, fitted):
        np.testing.assert_allclose(a.hypothetical, b.hypothetical, rtol=1e-5, atol=1e-8)
        assert abs(b.completeness_error) < 0.05 * np.abs(b.hypothetical * b.one_hot).sum()


def test_a_budget_below_one_window_is_said_not_silently_exceeded(caplog):
    """--max-memory below what one window needs cannot be kept by any batch: a warning says so and what to give
    (the run went one window at a time over the budget without a word); a budget that fits one window says
    nothing of the kind, nor does the machine's default budget."""
    import logging

    from seqsal.memory import below_one_window

    cost = WindowCost(per_window=4 << 20, fixed=1 << 20)
    assert below_one_window(4 << 20, cost, rc=False) == 5 << 20
    assert below_one_window(6 << 20, cost, rc=False) is None and below_one_window(6 << 20, cost, rc=True) == 9 << 20
    model = Dense()
    target = Target()
    width = 20_000  # about 6 MB per window: above the smallest budget a user may give (1 MiB)
    measured = measure_window_cost(lambda x: input_gradient(model, x, target), width, torch.device("cpu"))
    assert below_one_window(2 << 20, measured, False) is not None
    with caplog.at_level(logging.WARNING, logger="seqsal"):
        fit_memory(model, target, "saliency", {}, False, 64, 2 << 20, torch.device("cpu"), None, width)
        assert "--max-memory 2097152 is below what one window of this model needs" in caplog.text
        caplog.clear()
        fit_memory(model, target, "saliency", {}, False, 64, measured.fixed + 10 * measured.per_window,
                   torch.device("cpu"), None, width)
        fit_memory(model, target, "saliency", {}, False, 64, None, torch.device("cpu"), None, width)
    assert "below what one window" not in caplog.text


def test_on_windows_counts_each_batch_of_a_long_region_before_its_result(small_genome):
    """long23: the progress bar counted regions, so a long locus showed 0/1 until it was done. The engine now says
    how many of the run's windows each batch computed, before the region's result; a shard's neighbour windows
    (computed only to fill a batch) are not counted."""
    table = _table([("chr1", 100, 1_300, "+"), ("chr1", 2_000, 2_150, "-"), ("chr2", 0, 700, "+")])
    events: list = []
    with Genome(str(small_genome[0])) as genome:
        for result in iter_region_attributions(Dense(), genome.fetch, table, window=100, stride=50, batch_size=4,
                                               on_windows=lambda k: events.append(k)):
            events.append(("region", result.index))
        counts, _ = window_counts((table["end"] - table["start"]).to_numpy(), 100, 50)
        assert [k for k in events if isinstance(k, int)] and sum(k for k in events if isinstance(k, int)) == sum(counts)
        assert events.index(("region", 0)) >= 6  # its 23 windows: 6 batches of 4 counted before the first result
        shard: list = []
        list(iter_region_attributions(Dense(), genome.fetch, table.iloc[1:2].reset_index(drop=True), window=100,
                                      stride=50, batch_size=4, whole_table=(table, 1), on_windows=shard.append))
        assert sum(shard) == counts[1]


def test_the_run_progress_bar_counts_windows(small_genome, tiny_model, tmp_path, capsys):
    """`seqsal attribute`'s bar counts the run's windows (a 1,200-bp region at a 200-bp window, stride 100: 11),
    so a long locus moves before it is done; the regions done are its postfix."""
    from seqsal.pipeline import AttributeOptions, run_attribute

    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t100\t1300\tlong\nchr2\t0\t200\tshort\n")
    run_attribute(str(small_genome[0]), str(bed), str(tiny_model[0]), str(tmp_path / "out"),
                  AttributeOptions(method="saliency", stride=100), progress=True, peaks=False)
    bar = capsys.readouterr().err.replace("\r", "\n")
    assert "12/12 [" in bar and "window" in bar and "2/2 regions" in bar, bar


@pytest.mark.parametrize("stitch", ["mean", "centre"])
def test_a_long_region_resumes_from_its_part_done_state_with_the_bytes_of_the_whole_run(small_genome, stitch):
    """A run stopped inside a long region (its :class:`~seqsal.stitch.RegionState` after some batch) continues from
    the windows it had summed, computes none of them again, and gives the bytes of the uninterrupted run."""
    genome = Genome(small_genome[0])
    table = _table([("chr1", 100, 160, "+"), ("chr1", 200, 4200, "-"), ("chr2", 50, 1850, "+"), ("chr1", 10, 90, "-")])
    kwargs = dict(window=100, stride=30, batch_size=7, max_memory="1G", stitch=stitch)
    states = []
    whole = _run(Dense(), genome, table, on_region_state=lambda state: states.append(state()), **kwargs)
    counts = window_counts((table["end"] - table["start"]).to_numpy(), 100, 30)[0]
    assert {s.index for s in states} == {1, 2}  # the long regions are left part-done between batches
    for state in (states[0], states[len(states) // 2], states[-1]):
        model = Dense()
        got = _run(model, genome, table, skip=state.index, region_state=state, **kwargs)
        assert [r.index for r in got] == list(range(state.index, len(table)))
        for a, b in zip(got, whole[state.index:]):
            assert a.hypothetical.tobytes() == b.hypothetical.tobytes() and a.prediction == b.prediction
            assert a.n_windows == b.n_windows
        plain = Dense()  # resumed at the region's start: every window of it again (and the memory probe's)
        _run(plain, genome, table, skip=state.index, **kwargs)
        seen = sum(shape[0] for shape in model.seen)  # the memory probe's 3 windows besides the run's
        assert counts[state.index:].sum() - state.windows_done <= seen <= sum(s[0] for s in plain.seen) - state.windows_done
        assert 0 < state.windows_done < counts[state.index]


def test_a_part_done_region_of_other_windows_is_refused():
    """review27: a RegionState given through the API by a run of another stride was summed in (max difference equal
    to the map's largest value); the state records its windows and stitching, and another run's is refused."""
    from seqsal.stitch import RegionState

    rng = np.random.default_rng(1)
    sequence = "".join("ACGT"[i] for i in rng.integers(0, 4, 6000))
    fetch = lambda chrom, start, end: "".join(sequence[i] if 0 <= i < len(sequence) else "N"  # noqa: E731
                                              for i in range(start, end))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 8, 9, padding=4), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 200, 1)).eval()
    regions = pd.DataFrame({"chrom": ["c"], "start": [500], "end": [4900], "strand": ["+"], "name": ["b"]})
    states: list[RegionState] = []
    list(iter_region_attributions(model, fetch, regions, window=200, stride=70, batch_size=8, device="cpu",
                                  on_region_state=lambda state: states.append(state())))
    state = states[len(states) // 2]
    assert state.window == 200 and state.mode == "mean" and len(state.starts) > state.windows_done
    for stride, stitch in ((50, "mean"), (70, "centre")):
        with pytest.raises(InputError, match="summed over other windows"):
            list(iter_region_attributions(model, fetch, regions, window=200, stride=stride, batch_size=8,
                                          device="cpu", stitch=stitch, region_state=state))
    whole = list(iter_region_attributions(model, fetch, regions, window=200, stride=70, batch_size=8, device="cpu"))
    resumed = list(iter_region_attributions(model, fetch, regions, window=200, stride=70, batch_size=8, device="cpu",
                                            region_state=state))
    np.testing.assert_array_equal(resumed[0].hypothetical, whole[0].hypothetical)
