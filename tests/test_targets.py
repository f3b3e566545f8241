"""Issue 14: targets that name any output of a model — the old grammar, dict outputs by key, the task axis of
outputs of 3 or more dims, and never a guess (:class:`seqsal.attribution.Target`, :func:`resolve_task_axis`)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seqsal
from seqsal.attribution import Target, target_text
from seqsal.task_axis import resolve_task_axis, task_axis_of
from seqsal.errors import InputError


def test_target_grammar_keeps_its_old_forms_and_names_dict_outputs():
    assert Target.parse("3") == Target(task=3) and Target.parse("enhancer") == Target(task="enhancer")
    assert Target.parse("output=1,task=0,reduce=bpnet") == Target(1, 0, "bpnet")
    assert Target.parse("output=human,task=2") == Target(output="human", task=2)
    assert Target.parse("task=3,axis=-1") == Target(task=3, axis=-1)
    outputs = {"human": torch.arange(6.0).reshape(2, 3), "mouse": torch.zeros(2, 2)}
    torch.testing.assert_close(Target.parse("output=human,task=2").select(outputs), torch.tensor([2.0, 5.0]))
    torch.testing.assert_close(Target().select({"only": torch.ones(2, 3)}), torch.ones(2))  # one head: no name
    profile = torch.arange(24.0).reshape(2, 4, 3)  # (N, bins, tracks)
    torch.testing.assert_close(Target.parse("task=1,axis=-1").select(profile), profile[:, :, 1].sum(dim=1))
    torch.testing.assert_close(Target.parse("1").select(profile), profile[:, 1].sum(dim=1))  # the API's axis 1
    for text, message in (("output=human", "tuple of 2 outputs, not a dict"), ("axis=0", "axis 0 is the sequences"),
                          ("output=", "has no value"), ("tracks=2", "unknown key 'tracks'")):
        with pytest.raises(InputError, match=message):
            Target.parse(text).select((profile, profile))
    with pytest.raises(InputError, match="one output per sequence \\(no task axis\\); drop axis"):
        Target(axis=1).select(torch.zeros(2))


def test_task_axis_is_never_guessed():
    assert task_axis_of((2, 3, 16), (2, 3, 32)) == 1 and task_axis_of((2, 4, 3), (2, 8, 3)) == 2
    assert task_axis_of((2, 4, 3), (2, 4, 3)) is None and task_axis_of((2, 4, 3), None) is None

    class Pooled(torch.nn.Module):  # (N, 4, 4) whatever the input length: no axis grows
        def forward(self, x):
            return F.adaptive_avg_pool1d(x, 4)

    class Bins(torch.nn.Module):  # (N, L / 4, 4): bins grow with the input, the 4 tracks do not
        def forward(self, x):
            return F.avg_pool1d(x, 4).transpose(1, 2)

    probe = torch.zeros(2, 4, 16)
    with pytest.raises(InputError, match=r"for inputs twice as long it has shape \(N, 4, 4\), so its task axis"):
        resolve_task_axis(Pooled(), Target(task=1), probe, Pooled()(probe))
    assert resolve_task_axis(Pooled(), Target(task=1, axis=-1), probe, Pooled()(probe)).axis == -1
    assert resolve_task_axis(Bins(), Target(task=1), probe, Bins()(probe)).axis == 2
    assert resolve_task_axis(Bins(), Target(task=1), probe, torch.zeros(2, 3)) == Target(task=1)  # 2-d: as it is


def test_transform_logit_explains_the_logit_of_a_probability_output():
    """`--target 0,transform=logit` on a model that returns sigmoid(z): its gradient is z's exactly (grad x input
    equals the logit model's), deepshap refuses it, and an output outside (0, 1) is refused, never explained."""
    import seqsal

    torch.manual_seed(0)
    logit_model = torch.nn.Sequential(torch.nn.Conv1d(4, 8, 5), torch.nn.ReLU(), torch.nn.Flatten(),
                                      torch.nn.LazyLinear(1))
    x = F.one_hot(torch.randint(0, 4, (3, 40)), 4).permute(0, 2, 1).float()
    logit_model(x)

    class Probability(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = logit_model

        def forward(self, x):
            return torch.sigmoid(3 * self.inner(x))  # saturating: a probability near 0 or 1 for many inputs

    assert Target.parse("0,transform=logit") == Target(task=0, transform="logit")
    assert Target.parse("transform=logit").transform == "logit"
    with pytest.raises(InputError, match='target="transform=exp": unknown'):
        Target.parse("transform=exp")
    on_logit = seqsal.attribute(logit_model, x, method="grad_x_input")
    on_probability = seqsal.attribute(Probability(), x, method="grad_x_input", target="0,transform=logit")
    torch.testing.assert_close(torch.as_tensor(on_probability) / 3, torch.as_tensor(on_logit), rtol=1e-4, atol=1e-5)
    plain = seqsal.attribute(Probability(), x, method="grad_x_input", target="0,transform=none")
    assert not torch.allclose(torch.as_tensor(plain), torch.as_tensor(on_probability), rtol=0.1)
    default = seqsal.attribute(Probability(), x, method="grad_x_input")  # the graph's sigmoid: the logit, as the CLI
    torch.testing.assert_close(default, on_probability)
    with pytest.raises(InputError, match='deepshap cannot explain target="transform=logit"'):
        seqsal.attribute(Probability(), x, method="deepshap", target="0,transform=logit", references=2)
    with pytest.raises(InputError, match="needs outputs in \\(0, 1\\)"):
        seqsal.attribute(logit_model, x, method="grad_x_input", target="0,transform=logit")


class _Profile(torch.nn.Module):
    """One task's profile ``(N, L)``: no task axis, its length follows the input's (the anymodel helper's model)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, 6, 9, padding=4)
        self.head = torch.nn.Conv1d(6, 1, 5, padding=2)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x))).squeeze(1)


def test_a_two_dim_output_that_grows_with_the_input_is_a_profile_explained_whole(caplog):
    """An (N, L) profile was explained at position 0, its first base, silently, with reduce=sum recorded: now
    its axis 1 is found to be positions (it grows with the input), and the sum (or mean, or BPNet's weighting) of
    the whole profile is explained; a 2-d output that keeps its size stays tasks."""
    import seqsal
    from seqsal.model_checks import check_model_input
    from seqsal.models.files import LoadedModel

    torch.manual_seed(0)
    model = _Profile().eval()
    x = F.one_hot(torch.randint(0, 4, (3, 60)), 4).permute(0, 2, 1).float()
    assert Target.parse("axis=none") == Target(axis="none") and Target.parse("task=0,axis=none").axis == "none"
    with pytest.raises(InputError, match="axis=left\": the task axis is an integer, or none"):
        Target(axis="left")
    assert resolve_task_axis(model, Target(), x, model(x)) == Target(axis="none")
    leaf = x.clone().requires_grad_(True)
    for target, reduce in ((None, lambda o: o.sum(1)), ("reduce=mean", lambda o: o.mean(1))):
        (gradient,) = torch.autograd.grad(reduce(model(leaf)).sum(), leaf)
        got = seqsal.attribute(model, x, method="grad_x_input", target=target, correct=False)
        torch.testing.assert_close(got, gradient * x, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="has no task axis \\(axis=none"):
        seqsal.attribute(model, x, target="task=1")
    explicit = seqsal.attribute(model, x, target="task=5,axis=1", correct=False)  # the user's axis: position 5
    (gradient,) = torch.autograd.grad(model(leaf)[:, 5].sum(), leaf)
    torch.testing.assert_close(explicit, gradient * x, rtol=1e-5, atol=1e-6)

    pooled = torch.nn.Sequential(torch.nn.Conv1d(4, 3, 5), torch.nn.AdaptiveMaxPool1d(1), torch.nn.Flatten()).eval()
    assert resolve_task_axis(pooled, Target(task=2), x, pooled(x)) == Target(task=2)  # (N, 3) at any length: tasks

    loaded = LoadedModel(module=model, input_length=None, task_names=None, source="test")
    target, shape = check_model_input(loaded, None, 60, Target(), "cpu")
    assert target.axis == "none" and shape == (2, 60)

    class FixedProfile(torch.nn.Module):  # (N, L) from a dense layer: it takes one length only
        def __init__(self):
            super().__init__()
            self.dense = torch.nn.Linear(4 * 60, 60)

        def forward(self, x):
            return self.dense(x.flatten(1))

    with caplog.at_level("WARNING", logger="seqsal"):
        target, _ = check_model_input(LoadedModel(FixedProfile().eval(), None, None, "test"), None, 60, Target(),
                                      "cpu")
    assert target.axis is None and "one value per input base" in caplog.text and "axis=none" in caplog.text


def test_the_sum_of_a_softmax_over_positions_is_refused_not_explained_as_noise():
    """verify22: softmax(conv(x), -1) as an (N, L) profile summed to 1 for every sequence; its maps were float noise
    (max 1e-10) with rc 0. The same for a (N, tasks, positions) output whose softmax runs over positions."""
    import seqsal

    class SoftProfile(_Profile):
        def forward(self, x):
            return torch.softmax(super().forward(x), -1)

    class SoftTracks(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(4, 2, 5, padding=2)

        def forward(self, x):
            return torch.softmax(self.conv(x), -1)

    x = F.one_hot(torch.randint(0, 4, (2, 40)), 4).permute(0, 2, 1).float()
    for model in (SoftProfile().eval(), SoftTracks().eval()):
        for target in (None, "reduce=mean", "transform=none"):
            with pytest.raises(InputError, match="is a softmax over positions .* has nothing to explain"):
                seqsal.attribute(model, x, target=target)
    one = seqsal.attribute(SoftProfile().eval(), x, target="task=3,axis=1")  # one position: explained
    assert float(one.abs().max()) > 1e-6


def test_transform_logit_on_a_profile_reduction_is_refused_for_what_it_is():
    profile = torch.sigmoid(torch.randn(2, 30))
    with pytest.raises(InputError, match="transform=logit.*reduces a profile by sum over positions, which is no "
                                         "probability"):
        Target(axis="none", transform="logit").select(profile)
    torch.testing.assert_close(Target(axis="none").select(profile), profile.sum(1))


def test_fresh25b_ambiguous_outputs_are_said_or_refused(caplog):
    """fresh25b: four multi-output cases explained something other than what was meant, silently (or with a
    traceback): a profile cropped to fewer bases than the input of a one-length model, read as tasks (position 0
    explained); a user's axis that is a position axis; numbers as task names; a 0-d or a (tasks, N) output."""
    from seqsal.model_checks import check_model_input
    from seqsal.models.files import LoadedModel

    class Cropped(torch.nn.Module):  # (N, 50) of a 60-bp input, through a dense layer: one length only
        def __init__(self):
            super().__init__()
            self.dense = torch.nn.Linear(4 * 60, 50)

        def forward(self, x):
            return self.dense(x.flatten(1))

    def check(module, target=Target()):
        return check_model_input(LoadedModel(module.eval(), None, None, "test"), None, 60, target, "cpu")

    with caplog.at_level("WARNING", logger="seqsal"):
        assert check(Cropped())[0].axis is None  # still tasks, as before, but said
    assert "read as 50 tasks" in caplog.text and "--target axis=none" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="seqsal"):
        check(Cropped(), Target(task=0))  # the user says it is tasks: no warning
    assert not caplog.records

    class Profile(torch.nn.Module):  # (N, 3 tasks, L): BPNet's layout
        def forward(self, x):
            return torch.stack([x[:, 0], x[:, 1], x[:, 2]], dim=1)

    with caplog.at_level("WARNING", logger="seqsal"):
        check(Profile(), Target(task=1, axis=-1))
    assert "axis -1 of the output (N, 3, 60) grows with the input length" in caplog.text
    assert "the axis that keeps its size is 1 (--target ...,axis=1)" in caplog.text

    caplog.clear()
    with caplog.at_level("WARNING", logger="seqsal"):
        assert Target(task=1).resolve(["2", "0", "1"]).task == 1
    assert "task 1 is read as the index 1 (the task named '0'); the task named '1' is index 2" in caplog.text
    assert Target(task=20).resolve(["10", "20", "2"]).task == 1  # no index 20: the name is meant

    class Scalar(torch.nn.Module):
        def forward(self, x):
            return x.mean()

    class Transposed(torch.nn.Module):
        def forward(self, x):
            return x[:, :3].sum(dim=2).T  # (3 tasks, N)

    with pytest.raises(InputError, match="one number for the whole batch"):
        check(Scalar())
    with pytest.raises(InputError, match=r"has shape \(3, 2\) for a batch of 2 windows: its first axis must be"):
        check(Transposed())

    class TwoTasksFirst(torch.nn.Module):  # (2 tasks, N): at a batch of 2 its first axis has the batch's size
        def forward(self, x):
            return x[:, :2].sum(dim=2).T

    class BatchMean(torch.nn.Module):  # (2 tasks,) averaged over the batch
        def forward(self, x):
            return x[:, :2].sum(dim=2).mean(0)

    for model in (TwoTasksFirst(), BatchMean()):  # were refused as batch norm in training mode, or explained
        with pytest.raises(InputError, match=r"for a batch of 3 windows: its first axis must be the batch"):
            check(model)


def test_a_name_two_tasks_share_is_refused_not_read_as_the_first():
    """fresh26a: task names ['a', 'a', 'b', 'c'] and --target a explained task 0 without a word."""
    with pytest.raises(InputError, match=r"the model names tasks \[0, 1\] 'a': give the one meant by its index"):
        Target(task="a").resolve(["a", "a", "b", "c"])
    assert Target(task="b").resolve(["a", "a", "b", "c"]).task == 2 and Target(task=1).resolve(["a", "a"]).task == 1


def test_positions_reduce_only_the_bins_asked_for():
    """fresh28: a (N, bins, tracks) model was explained over every bin of a window longer than the region."""
    class Bins(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(2)
            self.conv = nn.Conv1d(4, 3, 9, padding=4)

        def forward(self, x):
            return nn.functional.avg_pool1d(self.conv(x), 16).transpose(1, 2)  # (N, bins, tracks)

    model = Bins().eval()
    x = torch.eye(4)[torch.randint(0, 4, (2, 128), generator=torch.Generator().manual_seed(0))].transpose(1, 2)
    target = Target.parse("task=1,axis=-1,positions=3:5")
    assert target == Target(task=1, axis=-1, positions=(3, 5))
    assert target_text(target) == "task=1,axis=-1,positions=3:5"
    xg = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model(xg)[:, 3:5, 1].sum(), xg)
    maps = seqsal.attribute(model, x, target="task=1,axis=-1,positions=3:5", method="saliency", correct=False,
                            hypothetical=True)
    assert torch.allclose(maps, gradient, atol=1e-6)
    last = seqsal.attribute(model, x, target="task=1,axis=-1,positions=-1:8", method="saliency", correct=False,
                            hypothetical=True)
    (gradient,) = torch.autograd.grad(model(xg)[:, 7, 1].sum(), xg)
    assert torch.allclose(last, gradient, atol=1e-6)
    with pytest.raises(InputError, match="holds none of the output's 8 positions"):
        seqsal.attribute(model, x, target="task=1,axis=-1,positions=9:12")
    with pytest.raises(InputError, match="START:END"):
        Target.parse("task=1,positions=3")
    from seqsal.report_tables import target_text as in_words
    assert "positions 3:5 of the output" in in_words({"task": 1, "axis": -1, "positions": [3, 5]})
