"""Issue 14: targets that name any output of a model — the old grammar, dict outputs by key, the task axis of
outputs of 3 or more dims, and never a guess (:class:`seqsal.attribution.Target`, :func:`resolve_task_axis`)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqsal.attribution import Target, resolve_task_axis, task_axis_of
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
